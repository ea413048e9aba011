/**
 * `openledger datanet …`: create, contribute, review, publish, export and prove rows of datanets on
 * a running node. The CLI acts as a dev-keyring account (`--as <index|address>`, read from
 * `--data-dir`): it signs in with SIWE, parses each file locally with the node's own parser to sign
 * the upload's rows root (EIP-712, one signature per file), and streams the file with progress.
 * `proof` checks the proof itself against the root read from DatanetRegistry over JSON-RPC, so it
 * does not have to trust the node.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { createPublicClient, createWalletClient, http, parseUnits, type Address } from 'viem';
import { artifacts } from '../../chain/index.ts';
import { prepareFile, signContribution, verifyRowProof, type DataFormat } from '../../datanets/index.ts';
import { OpenLedgerError, invalid } from '../../util/errors.ts';
import { NodeClient, devAccount, signedIn, userOptions as common, type UserOptions as Common } from '../client.ts';
import { printJson, printTable } from '../output.ts';

const id = (v: string) => {
  if (!/^\d+$/.test(v)) throw invalid(`"${v}" is not a datanet id`, { param: 'id', hint: 'datanet ids are 1, 2, …; list them with `openledger datanet list`' });
  return Number(v);
};
const list = (v?: string) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(2)} MB`;

/** POSTs a body as a stream so the bytes sent can be reported as they go. */
async function postWithProgress(url: string, token: string, bytes: Uint8Array, onProgress: (sent: number) => void): Promise<{ status: number; json: any }> {
  const chunk = 256 * 1024;
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (sent >= bytes.byteLength) return ctrl.close();
      const part = bytes.subarray(sent, Math.min(sent + chunk, bytes.byteLength));
      sent += part.byteLength;
      onProgress(sent);
      ctrl.enqueue(part);
    },
  });
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) },
      body,
      duplex: 'half',
    } as RequestInit);
  } catch (e) {
    throw new OpenLedgerError(`upload to ${url} failed: ${(e as Error).message}`, { type: 'config_error', code: 'node_unreachable', hint: 'check that the node is running (`openledger status`)' });
  }
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json };
}

function fail(json: any, status: number): never {
  const e = json?.error;
  throw new OpenLedgerError(e?.message ?? `HTTP ${status}`, { type: e?.type ?? 'internal_error', code: e?.code ?? null, param: e?.param ?? null, hint: e?.hint });
}

export function datanetCommands(program: Command) {
  const dn = program.command('datanet').description('datanets: create, contribute, review, publish, export, proof');

  common(dn.command('list').description('list datanets')).action(async (o: Common) => {
    const { data } = await new NodeClient(o.api).request('GET', '/v1/datanets?limit=200');
    if (o.json) return printJson(data);
    printTable(data.map((d: any) => ({ id: d.id, name: d.name, format: d.format, access: d.policies.access.kind, accepted: d.counts.accepted, pending: d.counts.pending, version: d.latestVersion, owner: d.owner })));
  });

  common(dn.command('show <id>').description('show one datanet')).action(async (idArg: string, o: Common) => {
    printJson(await new NodeClient(o.api).request('GET', `/v1/datanets/${id(idArg)}`));
  });

  common(
    dn
      .command('create')
      .description('create a datanet (registered on chain, owned by --as)')
      .requiredOption('--name <name>', 'name')
      .requiredOption('--format <format>', 'text | alpaca | sharegpt | labelled')
      .option('--summary <text>', 'one-line summary', '')
      .option('--description-file <file.md>', 'markdown description')
      .option('--tags <a,b>', 'comma-separated tags')
      .option('--license <spdx>', 'SPDX license id', 'CC-BY-4.0')
      .option('--labels <a,b>', 'labels (labelled format)')
      .option('--access <kind>', 'open | approval | paid', 'open')
      .option('--price <OPEN>', 'price of access in OPEN (paid)')
      .option('--approvals <n>', 'validator approvals per row (0 = automatic checks only)', '0')
      .option('--quota-user-mb <n>', 'MB per contributor per day')
      .option('--quota-datanet-mb <n>', 'MB per datanet per day')
      .option('--quota-uploads <n>', 'uploads per contributor per day'),
  ).action(async (o: Common & Record<string, string | undefined>) => {
    const { client } = await signedIn(o);
    const approvals = Number(o.approvals ?? 0);
    const access =
      o.access === 'paid'
        ? { kind: 'paid', priceWei: parseUnits(o.price ?? (() => { throw invalid('--access paid needs --price <OPEN>', { param: 'price', hint: 'e.g. --price 10' }); })(), 18).toString() }
        : { kind: o.access };
    const quota: Record<string, number> = {};
    if (o.quotaUserMb) quota.userBytesPerDay = Math.round(Number(o.quotaUserMb) * 1024 * 1024);
    if (o.quotaDatanetMb) quota.datanetBytesPerDay = Math.round(Number(o.quotaDatanetMb) * 1024 * 1024);
    if (o.quotaUploads) quota.userUploadsPerDay = Number(o.quotaUploads);
    const d = await client.request('POST', '/v1/datanets', {
      name: o.name,
      format: o.format,
      summary: o.summary,
      description: o.descriptionFile ? await readFile(o.descriptionFile, 'utf8') : '',
      tags: list(o.tags) ?? [],
      license: o.license,
      labels: list(o.labels),
      policies: { access, validation: approvals > 0 ? { kind: 'validators', approvals } : { kind: 'automatic' }, ...(Object.keys(quota).length ? { quota } : {}) },
    });
    if (o.json) return printJson(d);
    console.log(`created datanet ${d.id} "${d.name}" (${d.format}, ${d.policies.access.kind}) owned by ${d.owner}`);
    console.log(`  tx ${d.txHash}`);
  });

  common(
    dn
      .command('contribute <id> <files...>')
      .description('upload files (.txt .md .jsonl .json .csv .pdf .docx): signed, validated, all-or-nothing per file')
      .option('--show <n>', 'rejected rows to print per file', '20'),
  ).action(async (idArg: string, files: string[], o: Common & { show: string }) => {
    const datanetId = id(idArg);
    const { client, account } = await signedIn(o);
    const [d, st] = await Promise.all([client.request('GET', `/v1/datanets/${datanetId}`), client.request('GET', '/v1/status')]);
    const domain = { chainId: st.chainId as number, registry: st.contracts.DatanetRegistry as Address };
    const reports: any[] = [];
    for (const [i, file] of files.entries()) {
      const tag = `[${i + 1}/${files.length}] ${basename(file)}`;
      const bytes = new Uint8Array(await readFile(file));
      process.stderr.write(`${tag}: parsing ${mb(bytes.byteLength)}…\n`);
      const prepared = await prepareFile(bytes, basename(file), d.format as DataFormat);
      const nonce = BigInt(Date.now()) * 1000n + BigInt(i);
      const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600);
      const signature = await signContribution(account, domain, {
        contributor: account.address,
        datanetId: BigInt(datanetId),
        rowsRoot: prepared.rowsRoot,
        rowCount: BigInt(prepared.rowHashes.length),
        nonce,
        deadline,
      });
      process.stderr.write(`${tag}: ${prepared.records.length} rows, signed as ${account.address}; uploading…\n`);
      let shown = -1;
      const q = `filename=${encodeURIComponent(basename(file))}&nonce=${nonce}&deadline=${deadline}&signature=${signature}`;
      const res = await postWithProgress(`${o.api}/v1/datanets/${datanetId}/contributions?${q}`, client.token!, bytes, (sent) => {
        const pct = Math.floor((100 * sent) / Math.max(1, bytes.byteLength));
        if (pct >= shown + 10 || sent === bytes.byteLength) {
          shown = pct;
          process.stderr.write(`${tag}: sent ${mb(sent)} (${pct}%)\n`);
        }
      });
      if (res.status !== 201) fail(res.json, res.status);
      const r = res.json;
      reports.push(r);
      if (o.json) continue;
      console.log(`${tag}: ${r.rows} rows → ${r.accepted} accepted, ${r.pending} pending review, ${r.rejected} rejected (upload ${r.uploadId})`);
      const rejected = r.results.filter((x: any) => x.status === 'rejected');
      if (rejected.length) {
        printTable(
          rejected.slice(0, Number(o.show)).map((x: any) => ({ line: x.line ?? `#${x.item}`, reason: x.reasons.map((z: any) => `${z.code}: ${z.message}`).join('; ') })),
        );
        if (rejected.length > Number(o.show)) console.log(`… and ${rejected.length - Number(o.show)} more (use --json for all)`);
      }
    }
    if (o.json) printJson(reports);
  });

  common(
    dn
      .command('rows <id>')
      .description('list rows')
      .option('--status <s>', 'accepted | pending | rejected')
      .option('--limit <n>', 'max rows', '50'),
  ).action(async (idArg: string, o: Common & { status?: string; limit: string }) => {
    const { client } = await signedIn(o);
    const { data } = await client.request('GET', `/v1/datanets/${id(idArg)}/rows?limit=${Number(o.limit)}${o.status ? `&status=${o.status}` : ''}`);
    if (o.json) return printJson(data);
    printTable(data.map((r: any) => ({ id: r.id, status: r.status, contributor: r.contributor, line: r.line ?? '', data: JSON.stringify(r.data).slice(0, 70) })));
  });

  common(
    dn
      .command('review <id>')
      .description('approve or reject pending rows as a staked validator of the datanet')
      .option('--rows <ids>', 'comma-separated row ids')
      .option('--all-pending', 'every pending row', false)
      .option('--approve', 'approve', false)
      .option('--reject', 'reject', false)
      .option('--reason <text>', 'reason (required to reject)', ''),
  ).action(async (idArg: string, o: Common & { rows?: string; allPending: boolean; approve: boolean; reject: boolean; reason: string }) => {
    if (o.approve === o.reject) throw invalid('pass exactly one of --approve or --reject', { param: 'approve', hint: 'e.g. --approve --rows 3,4' });
    const datanetId = id(idArg);
    const { client } = await signedIn(o);
    let rows = (list(o.rows) ?? []).map(Number);
    if (o.allPending) rows = (await client.request('GET', `/v1/datanets/${datanetId}/rows?status=pending&limit=1000`)).data.map((r: any) => r.id);
    if (rows.length === 0) throw invalid('no rows to review', { param: 'rows', hint: 'pass --rows 1,2 or --all-pending' });
    const { data } = await client.request('POST', `/v1/datanets/${datanetId}/reviews`, { rows, decision: o.approve ? 'approve' : 'reject', reason: o.reason });
    if (o.json) return printJson(data);
    printTable(data.map((x: any) => ({ row: x.rowId, status: x.status, approvals: x.approvals, rejections: x.rejections })));
  });

  common(dn.command('leaderboard <id>').description('contributors by accepted rows and acceptance rate')).action(async (idArg: string, o: Common) => {
    const { data } = await new NodeClient(o.api).request('GET', `/v1/datanets/${id(idArg)}/leaderboard`);
    if (o.json) return printJson(data);
    printTable(data.map((e: any) => ({ rank: e.rank, contributor: e.contributor, accepted: e.accepted, pending: e.pending, rejected: e.rejected, rate: `${(e.acceptanceBps / 100).toFixed(1)}%` })));
  });

  common(dn.command('publish <id>').description('publish a version: Merkle root of accepted rows + snapshot in DA, committed on chain')).action(async (idArg: string, o: Common) => {
    const { client } = await signedIn(o);
    const v = await client.request('POST', `/v1/datanets/${id(idArg)}/versions`);
    if (o.json) return printJson(v);
    console.log(`published version ${v.version} of datanet ${v.datanetId}: ${v.rowCount} rows`);
    console.log(`  merkle root   ${v.merkleRoot}`);
    console.log(`  snapshot      ${v.snapshotId} (DA commitment ${v.daCommitment.length > 70 ? v.daCommitment.slice(0, 66) + '…' : v.daCommitment})`);
    console.log(`  tx            ${v.txHash} (block ${v.blockNumber})`);
  });

  common(
    dn
      .command('export <id> <version>')
      .description("export a version as training JSONL in the datanet's format, with row ids")
      .option('--out <file>', 'write to a file instead of stdout'),
  ).action(async (idArg: string, version: string, o: Common & { out?: string }) => {
    const { client } = await signedIn(o);
    const res = await fetch(`${o.api}/v1/datanets/${id(idArg)}/versions/${Number(version)}/export`, { headers: { authorization: `Bearer ${client.token}` } });
    const text = await res.text();
    if (!res.ok) fail(JSON.parse(text), res.status);
    if (o.out) {
      await writeFile(o.out, text);
      console.error(`wrote ${text.split('\n').filter(Boolean).length} rows to ${o.out}`);
    } else process.stdout.write(text);
  });

  common(
    dn
      .command('proof <id> <version> <rowId>')
      .description("fetch a row's inclusion proof and verify it against the root on chain")
      .option('--rpc-url <url>', 'JSON-RPC to read the root from (default: the node\'s chain)'),
  ).action(async (idArg: string, version: string, rowId: string, o: Common & { rpcUrl?: string }) => {
    const datanetId = id(idArg);
    const client = new NodeClient(o.api);
    const [p, st] = await Promise.all([client.request('GET', `/v1/datanets/${datanetId}/versions/${Number(version)}/rows/${Number(rowId)}/proof`), client.request('GET', '/v1/status')]);
    const rpc = o.rpcUrl ?? st.rpcUrl;
    const pc = createPublicClient({ transport: http(rpc) });
    const on = (await pc.readContract({
      address: st.contracts.DatanetRegistry,
      abi: artifacts.DatanetRegistry.abi,
      functionName: 'getVersion',
      args: [BigInt(datanetId), BigInt(version)],
    } as never)) as { merkleRoot: `0x${string}`; rowCount: bigint };
    const ok = verifyRowProof(on.merkleRoot, p.leaf, p.proof);
    if (o.json) printJson({ ...p, chainRoot: on.merkleRoot, verifiedLocally: ok });
    else {
      console.log(`row ${p.rowId} of datanet ${datanetId} version ${version}`);
      console.log(`  leaf          rowHash ${p.leaf.rowHash}, contributor ${p.leaf.contributor}`);
      console.log(`  proof         ${p.proof.length} hashes`);
      console.log(`  on-chain root ${on.merkleRoot} (read from ${rpc})`);
      console.log(ok ? '  verified: the row is in this version' : '  NOT VERIFIED: the proof does not match the on-chain root');
    }
    if (!ok) process.exitCode = 2;
  });

  const v = dn.command('validators').description('manage validators');
  common(v.command('add <id> <address>').description('add a validator (owner; on chain)')).action(async (idArg: string, address: string, o: Common) => {
    const { client } = await signedIn(o);
    const r = await client.request('POST', `/v1/datanets/${id(idArg)}/validators`, { address });
    if (o.json) return printJson(r);
    console.log(`validator ${address} added (tx ${r.txHash})`);
  });

  common(
    v
      .command('stake <amountOPEN>')
      .description('stake OPEN in the Staking contract as --as (validators need a stake to review); signs over JSON-RPC with the dev key'),
  ).action(async (amount: string, o: Common) => {
    const account = devAccount(o.dataDir, o.as);
    const st = await new NodeClient(o.api).request('GET', '/v1/status');
    const chain = { id: st.chainId, name: `chain ${st.chainId}`, nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [st.rpcUrl] } } } as const;
    const wallet = createWalletClient({ account, chain, transport: http(st.rpcUrl) });
    const pc = createPublicClient({ chain, transport: http(st.rpcUrl) });
    const wei = parseUnits(amount, 18);
    const send = async (address: Address, abi: unknown, functionName: string, args: unknown[]) => {
      const hash = await wallet.writeContract({ address, abi, functionName, args } as never);
      const r = await pc.waitForTransactionReceipt({ hash });
      if (r.status !== 'success') throw new OpenLedgerError(`${functionName} reverted (tx ${hash})`, { type: 'chain_error', hint: 'check the OPEN balance of the account (`openledger accounts`)' });
      return hash;
    };
    await send(st.contracts.OpenToken, artifacts.OpenToken.abi, 'approve', [st.contracts.Staking, wei]);
    const hash = await send(st.contracts.Staking, artifacts.Staking.abi, 'stake', [wei]);
    if (o.json) return printJson({ account: account.address, staked: wei.toString(), txHash: hash });
    console.log(`${account.address} staked ${amount} OPEN (tx ${hash})`);
  });

  const a = dn.command('access').description('grant or revoke access (approval and paid datanets)');
  common(a.command('grant <id> <address>').description('grant access (owner; on chain)')).action(async (idArg: string, address: string, o: Common) => {
    const { client } = await signedIn(o);
    printJson(await client.request('POST', `/v1/datanets/${id(idArg)}/access`, { address }));
  });
  common(a.command('revoke <id> <address>').description('revoke access (owner; on chain)')).action(async (idArg: string, address: string, o: Common) => {
    const { client } = await signedIn(o);
    printJson(await client.request('DELETE', `/v1/datanets/${id(idArg)}/access/${address}`));
  });
  common(dn.command('buy <id>').description('buy access to a paid datanet (the node signs for dev accounts)')).action(async (idArg: string, o: Common) => {
    const { client } = await signedIn(o);
    printJson(await client.request('POST', `/v1/datanets/${id(idArg)}/purchase`, {}));
  });
}
