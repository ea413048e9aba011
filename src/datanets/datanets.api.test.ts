/**
 * Datanets end to end against a real node (embedded Anvil, real store, local DA), through the HTTP
 * API in process: create → contribute (good, mixed and bad uploads) → review → publish → proof
 * against the on-chain root → export; access control and paid access; every bad input of issue 3.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePrivateKey, privateKeyToAccount, type LocalAccount } from 'viem/accounts';
import type { Address } from 'viem';
import { siweToken, startTestNode } from '../../test/helpers.ts';
import type { RunningNode } from '../node.ts';
import { actions } from '../chain/index.ts';
import { getVersion, purchaseAccess } from './chain-facts.ts';
import { verifyRowProof } from './merkle.ts';
import { prepareFile } from './upload.ts';
import { signContribution } from './signature.ts';
import { buildDocx } from './testing/zip.ts';
import { buildPdf } from './testing/pdf.ts';

let node: RunningNode & { dataDir: string };
let owner: LocalAccount, alice: LocalAccount, validator: LocalAccount, buyer: LocalAccount, outsider: LocalAccount;
const tokens = new Map<string, string>();

type Method = 'GET' | 'POST' | 'DELETE';
const call = (method: Method, url: string, who?: LocalAccount, payload?: unknown, headers: Record<string, string> = {}) =>
  node.app.inject({
    method,
    url,
    payload: payload as never,
    headers: { ...(who ? { authorization: `Bearer ${tokens.get(who.address)}` } : {}), ...headers },
  });

async function signIn(acct: LocalAccount) {
  tokens.set(acct.address, await siweToken(node, acct));
}

let nonceSeq = 1n;
/** Signs an upload locally, the way the CLI does (same parser, same root). */
async function signed(acct: LocalAccount, datanetId: number, bytes: Uint8Array, filename: string, format: 'text' | 'alpaca' | 'sharegpt' | 'labelled') {
  const prepared = await prepareFile(bytes, filename, format);
  const nonce = nonceSeq++;
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 600);
  const chain = node.services.chain;
  const signature = await signContribution(acct, { chainId: chain.chainId, registry: chain.addresses.contracts.DatanetRegistry }, {
    contributor: acct.address,
    datanetId: BigInt(datanetId),
    rowsRoot: prepared.rowsRoot,
    rowCount: BigInt(prepared.rowHashes.length),
    nonce,
    deadline,
  });
  return { nonce, deadline, signature };
}

async function upload(acct: LocalAccount, datanetId: number, content: string | Uint8Array, filename: string, format: 'text' | 'alpaca' | 'sharegpt' | 'labelled', sig?: { nonce: bigint; deadline: bigint; signature: string }) {
  const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  const s = sig ?? (await signed(acct, datanetId, bytes, filename, format));
  return call('POST', `/v1/datanets/${datanetId}/contributions?filename=${encodeURIComponent(filename)}&nonce=${s.nonce}&deadline=${s.deadline}&signature=${s.signature}`, acct, Buffer.from(bytes), {
    'content-type': 'application/octet-stream',
  });
}

const SOON = BigInt(Math.floor(Date.now() / 1000) + 3600);
const errCode = (res: { json(): any }) => res.json().error?.code;
const enc = (s: string) => new TextEncoder().encode(s);

before(async () => {
  node = await startTestNode();
  const k = node.services.keyring!;
  [owner, alice, validator, buyer] = k.accounts;
  outsider = privateKeyToAccount(generatePrivateKey());
  for (const a of [owner, alice, validator, buyer, outsider]) await signIn(a);
});
after(async () => {
  await node?.stop();
});

describe('datanets', () => {
  let sentiment: number; // labelled, 1 validator approval
  let rowIds: number[] = [];

  test('create: registered on chain with the caller as owner; bad input is a 400', async () => {
    const res = await call('POST', '/v1/datanets', owner, {
      name: 'Sentiment (demo)',
      summary: 'Short product reviews labelled positive or negative',
      description: '# Sentiment\nOne sentence per row.',
      tags: ['sentiment', 'demo'],
      license: 'CC0-1.0',
      format: 'labelled',
      labels: ['positive', 'negative'],
      policies: { validation: { kind: 'validators', approvals: 1 } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const d = res.json();
    sentiment = d.id;
    assert.equal(d.owner, owner.address);
    assert.match(d.metadataURI, /^da:\/\/0x[0-9a-f]{64}$/);
    const on = await node.services.chain.publicClient.readContract({
      address: node.services.chain.addresses.contracts.DatanetRegistry,
      abi: (await import('../chain/index.ts')).artifacts.DatanetRegistry.abi,
      functionName: 'getDatanet',
      args: [BigInt(sentiment)],
    } as never) as { owner: Address; requiredApprovals: number; metadataURI: string };
    assert.equal(on.owner, owner.address);
    assert.equal(on.requiredApprovals, 1);
    assert.equal(on.metadataURI, d.metadataURI);
    assert.equal((await call('GET', `/v1/datanets/${sentiment}`)).json().name, 'Sentiment (demo)');
    assert.ok((await call('GET', '/v1/datanets?tag=demo')).json().data.some((x: any) => x.id === sentiment));

    assert.equal(errCode(await call('POST', '/v1/datanets', owner, { name: 'x', format: 'labelled' })), 'labels_required');
    assert.equal(errCode(await call('POST', '/v1/datanets', owner, { name: 'x', format: 'text', license: 'not a license!' })), 'invalid_datanet');
    assert.equal((await call('POST', '/v1/datanets', undefined, { name: 'x', format: 'text' })).statusCode, 401);
    assert.equal((await call('GET', '/v1/datanets/999')).statusCode, 404);
    const doc = (await call('GET', '/openapi.json')).json();
    for (const path of ['/v1/datanets', '/v1/datanets/{id}/contributions', '/v1/datanets/{id}/reviews', '/v1/datanets/{id}/versions', '/v1/datanets/{id}/versions/{version}/rows/{rowId}/proof']) {
      assert.ok(doc.paths[path], `${path} documented`);
    }
  });

  test('contribute a mixed good/bad CSV: report with lines and reasons; good rows pending', async () => {
    const csv = [
      'text,label',
      'I love this phone; the battery lasts for days.,positive', // 2 ok
      'Terrible service and the package arrived broken.,negative', // 3 ok
      '"I LOVE this phone;   the battery lasts for days.",positive', // 4 duplicate of 2
      ',positive', // 5 empty
      'Great value for the money and fast shipping too.,maybe', // 6 label not allowed
      '%%%% $$$$ #### @@@@,negative', // 7 garbage
      'The screen cracked after one week of careful use.,negative', // 8 ok
      'only one field', // 9 ragged
    ].join('\n');
    const res = await upload(alice, sentiment, csv, 'reviews.csv', 'labelled');
    assert.equal(res.statusCode, 201, res.body);
    const r = res.json();
    assert.equal(r.rows, 8);
    assert.equal(r.pending, 3);
    assert.equal(r.accepted, 0);
    assert.equal(r.rejected, 5);
    const byLine = new Map(r.results.map((x: any) => [x.line, x]));
    assert.equal((byLine.get(4) as any).reasons[0].code, 'duplicate');
    assert.equal((byLine.get(5) as any).reasons[0].code, 'empty');
    assert.equal((byLine.get(6) as any).reasons[0].code, 'label_not_allowed');
    assert.equal((byLine.get(7) as any).reasons[0].code, 'garbage');
    assert.equal((byLine.get(9) as any).reasons[0].code, 'csv_row');
    rowIds = r.results.filter((x: any) => x.rowId).map((x: any) => x.rowId);
    assert.equal(rowIds.length, 3);
    // the raw file is in the DA layer and the upload record keeps the signature
    const u = (await call('GET', `/v1/datanets/${sentiment}/contributions/${r.uploadId}`)).json();
    assert.match(u.signature, /^0x[0-9a-f]{130}$/);
    assert.equal(u.contributor, alice.address);
    const blob = await (node.services.modules.da as any).get(u.blobId);
    assert.equal(new TextDecoder().decode(blob), csv);
    // a later near-duplicate from someone else points at alice's row (first submitter keeps credit)
    const again = await upload(buyer, sentiment, 'text,label\nI love this phone; the battery lasts for days!,positive\n', 'x.csv', 'labelled');
    assert.equal(again.statusCode, 201, again.body);
    assert.equal(again.json().results[0].reasons[0].code, 'near_duplicate');
    assert.deepEqual(again.json().results[0].duplicateOf, { rowId: rowIds[0] });
  });

  test('bad uploads: each a clear 4xx, and nothing is stored', async () => {
    const before = (await call('GET', `/v1/datanets/${sentiment}/rows?limit=1000`, owner)).json().data.length;
    const text = (await call('POST', '/v1/datanets', owner, { name: 'Notes', format: 'text' })).json().id;

    const badUtf8 = new Uint8Array([...enc('fine line\nbad '), 0xff, 0xfe, ...enc('\n')]);
    const r1 = await upload(alice, text, badUtf8, 'notes.txt', 'text', { nonce: nonceSeq++, deadline: SOON, signature: '0x00' });
    assert.equal(r1.statusCode, 400);
    assert.equal(errCode(r1), 'invalid_utf8');
    assert.match(r1.json().error.message, /line 2/);

    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
    const r2 = await upload(alice, text, png, 'image.txt', 'text', { nonce: nonceSeq++, deadline: SOON, signature: '0x00' });
    assert.equal(errCode(r2), 'binary_file');

    const huge = Buffer.alloc(11 * 1024 * 1024, 0x61);
    const r3 = await call('POST', `/v1/datanets/${text}/contributions?filename=big.txt&nonce=1&deadline=${SOON}&signature=0x00`, alice, huge, { 'content-type': 'application/octet-stream' });
    assert.equal(r3.statusCode, 413);
    assert.equal(r3.json().error.type, 'payload_too_large');

    const bomb = buildDocx(['hello'], [{ name: 'word/media/bomb.bin', data: new Uint8Array(64 * 1024 * 1024) }]);
    const r4 = await upload(alice, text, bomb, 'bomb.docx', 'text', { nonce: nonceSeq++, deadline: SOON, signature: '0x00' });
    assert.equal(r4.statusCode, 413);
    assert.equal(errCode(r4), 'zip_bomb');

    const r5 = await upload(alice, text, '{"text":"ok"}\n{"text": broken\n', 'rows.jsonl', 'text', { nonce: nonceSeq++, deadline: SOON, signature: '0x00' });
    assert.equal(r5.statusCode, 400);
    assert.equal(errCode(r5), 'malformed_jsonl');
    assert.match(r5.json().error.message, /line 2/);

    const r6 = await upload(alice, sentiment, 'text\nno label column here\n', 'rows.csv', 'labelled', { nonce: nonceSeq++, deadline: SOON, signature: '0x00' });
    assert.equal(r6.statusCode, 400);
    assert.equal(errCode(r6), 'csv_missing_column');

    // forged: signed by someone else for alice's upload
    const content = 'text,label\nThe headphones are comfortable for long flights.,positive\n';
    const forged = await signed(outsider, sentiment, enc(content), 'f.csv', 'labelled');
    const r7 = await upload(alice, sentiment, content, 'f.csv', 'labelled', forged);
    assert.equal(r7.statusCode, 401);
    assert.equal(errCode(r7), 'invalid_signature');
    // signed for other rows
    const other = await signed(alice, sentiment, enc('text,label\nSomething else entirely was signed here.,positive\n'), 'f.csv', 'labelled');
    assert.equal(errCode(await upload(alice, sentiment, content, 'f.csv', 'labelled', other)), 'invalid_signature');
    // expired
    const old = await signed(alice, sentiment, enc(content), 'f.csv', 'labelled');
    const expired = await signContribution(alice, { chainId: node.services.chain.chainId, registry: node.services.chain.addresses.contracts.DatanetRegistry }, {
      contributor: alice.address, datanetId: BigInt(sentiment), rowsRoot: (await prepareFile(enc(content), 'f.csv', 'labelled')).rowsRoot, rowCount: 1n, nonce: old.nonce, deadline: 1000n,
    });
    assert.equal(errCode(await upload(alice, sentiment, content, 'f.csv', 'labelled', { nonce: old.nonce, deadline: 1000n, signature: expired })), 'signature_expired');
    assert.equal(errCode(await upload(alice, sentiment, content, 'f.csv', 'labelled', { nonce: old.nonce, deadline: 2n ** 200n, signature: expired })), 'deadline_too_far');
    // replayed: the same signed upload twice
    const ok = await signed(alice, sentiment, enc(content), 'f.csv', 'labelled');
    assert.equal((await upload(alice, sentiment, content, 'f.csv', 'labelled', ok)).statusCode, 201);
    const r8 = await upload(alice, sentiment, content, 'f.csv', 'labelled', ok);
    assert.equal(r8.statusCode, 409);
    assert.equal(errCode(r8), 'nonce_reused');

    // unauthenticated, unsupported type, missing signature
    assert.equal((await call('POST', `/v1/datanets/${text}/contributions?filename=a.txt`, undefined, Buffer.from('x'), { 'content-type': 'application/octet-stream' })).statusCode, 401);
    assert.equal(errCode(await upload(alice, text, 'x', 'a.exe', 'text', { nonce: 1n, deadline: SOON, signature: '0x00' })), 'unsupported_file_type');

    // all-or-nothing: only the one good upload added a row
    const afterRows = (await call('GET', `/v1/datanets/${sentiment}/rows?limit=1000`, owner)).json().data.length;
    assert.equal(afterRows, before + 1);
    assert.equal((await call('GET', `/v1/datanets/${text}/rows`, owner)).json().data.length, 0);
    // a publish with nothing accepted
    const r9 = await call('POST', `/v1/datanets/${text}/versions`, owner);
    assert.equal(r9.statusCode, 400);
    assert.equal(errCode(r9), 'nothing_to_publish');
  });

  test('pdf and docx uploads become rows', async () => {
    const text = (await call('POST', '/v1/datanets', owner, { name: 'Docs', format: 'text' })).json().id;
    const pdf = await upload(alice, text, buildPdf([['Datanets hold curated rows.'], ['Each row keeps its author.']]), 'doc.pdf', 'text');
    assert.equal(pdf.statusCode, 201, pdf.body);
    assert.equal(pdf.json().accepted, 2);
    const docx = await upload(alice, text, buildDocx(['Versions are anchored on chain.', 'Proofs verify against the root.']), 'doc.docx', 'text');
    assert.equal(docx.json().accepted, 2);
  });

  test('review: only staked validators of the datanet; the policy decides', async () => {
    const pending = (await call('GET', `/v1/datanets/${sentiment}/rows?status=pending`, owner)).json().data.map((r: any) => r.id);
    assert.ok(pending.length >= 4);
    const notYet = await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: [pending[0]], decision: 'approve' });
    assert.equal(notYet.statusCode, 403);
    assert.equal(errCode(notYet), 'not_validator');
    assert.equal((await call('POST', `/v1/datanets/${sentiment}/validators`, alice, { address: validator.address })).statusCode, 403); // not the owner
    // On chain a validator must be staked to be added (DatanetRegistry checks Staking); unbonding it all again
    // leaves a listed validator without stake, which the review refuses.
    await actions.stake(node.services.chain, { account: validator, amount: 100n * 10n ** 18n });
    assert.equal((await call('POST', `/v1/datanets/${sentiment}/validators`, owner, { address: validator.address })).statusCode, 200);
    await actions.unbond(node.services.chain, { account: validator, amount: 100n * 10n ** 18n });
    assert.equal(errCode(await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: [pending[0]], decision: 'approve' })), 'validator_not_staked');
    await actions.stake(node.services.chain, { account: validator, amount: 100n * 10n ** 18n });

    const approve = pending.slice(0, -1);
    const res = await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: approve, decision: 'approve' });
    assert.equal(res.statusCode, 200, res.body);
    assert.ok(res.json().data.every((x: any) => x.status === 'accepted'));
    const last = pending[pending.length - 1];
    assert.equal(errCode(await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: [last], decision: 'reject' })), 'reason_required');
    const rej = await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: [last], decision: 'reject', reason: 'off topic' });
    assert.equal(rej.json().data[0].status, 'rejected');
    assert.equal(errCode(await call('POST', `/v1/datanets/${sentiment}/reviews`, validator, { rows: [last], decision: 'approve' })), 'row_not_pending');
    const row = (await call('GET', `/v1/datanets/${sentiment}/rows/${last}`)).json();
    assert.equal(row.reason, 'off topic');
    assert.equal(row.votes[0].validator, validator.address);

    const lb = (await call('GET', `/v1/datanets/${sentiment}/leaderboard`)).json().data;
    const a = lb.find((e: any) => e.contributor === alice.address);
    assert.equal(a.rank, 1);
    assert.ok(a.accepted >= 3 && a.rejected >= 5);
  });

  test('publish: root on chain, proofs verify against it, export carries row ids', async () => {
    const res = await call('POST', `/v1/datanets/${sentiment}/versions`, owner);
    assert.equal(res.statusCode, 201, res.body);
    const v = res.json();
    assert.equal(v.version, 1);
    const on = await getVersion(node.services.chain, BigInt(sentiment), 1n);
    assert.equal(on.merkleRoot, v.merkleRoot);
    assert.equal(Number(on.rowCount), v.rowCount);
    assert.equal(on.contentHash, v.snapshotId);
    // snapshot is in DA under the recorded commitment
    const snap = new TextDecoder().decode(await (node.services.modules.da as any).get(on.daCommitment));
    assert.equal(snap.trim().split('\n').length, v.rowCount);

    const exp = await call('GET', `/v1/datanets/${sentiment}/versions/1/export`);
    assert.equal(exp.statusCode, 200);
    const lines = exp.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, v.rowCount);
    assert.deepEqual(Object.keys(lines[0]), ['id', 'hash', 'text', 'label']);

    for (const line of lines) {
      const p = (await call('GET', `/v1/datanets/${sentiment}/versions/1/rows/${line.id}/proof`)).json();
      assert.equal(p.verified, true);
      assert.equal(p.onChainRoot, on.merkleRoot);
      assert.equal(verifyRowProof(on.merkleRoot, p.leaf, p.proof), true);
      assert.equal(p.leaf.rowHash, line.hash);
    }
    const rejected = (await call('GET', `/v1/datanets/${sentiment}/rows?status=rejected`)).json().data[0].id;
    assert.equal(errCode(await call('GET', `/v1/datanets/${sentiment}/versions/1/rows/${rejected}/proof`)), 'row_not_in_version');
    const again = await call('POST', `/v1/datanets/${sentiment}/versions`, owner);
    assert.equal(again.statusCode, 409);
    assert.equal(errCode(again), 'version_unchanged');
    assert.equal((await call('POST', `/v1/datanets/${sentiment}/versions`, alice)).statusCode, 403);
  });

  test('approval datanet: no write or read without a grant; the grant is on chain', async () => {
    const id = (await call('POST', '/v1/datanets', owner, { name: 'Private', format: 'text', policies: { access: { kind: 'approval' } } })).json().id;
    const r = await upload(alice, id, 'A private note about the project.', 'n.txt', 'text');
    assert.equal(r.statusCode, 403);
    assert.equal(errCode(r), 'no_write_access');
    assert.equal(errCode(await call('GET', `/v1/datanets/${id}/rows`, alice)), 'no_read_access');
    assert.equal((await call('POST', `/v1/datanets/${id}/access`, alice, { address: alice.address })).statusCode, 403);
    const g = await call('POST', `/v1/datanets/${id}/access`, owner, { address: alice.address });
    assert.equal(g.statusCode, 200, g.body);
    assert.equal(g.json().changed, true);
    assert.equal((await upload(alice, id, 'A private note about the project.', 'n.txt', 'text')).statusCode, 201);
    assert.equal((await call('GET', `/v1/datanets/${id}/rows`, alice)).statusCode, 200);
    assert.equal((await call('DELETE', `/v1/datanets/${id}/access/${alice.address}`, owner)).json().changed, true);
    assert.equal(errCode(await call('GET', `/v1/datanets/${id}/rows`, alice)), 'no_read_access');
  });

  test('paid datanet: buyer is charged on chain, contributors credited by accepted rows', async () => {
    const price = 1000n * 10n ** 18n + 1n;
    const id = (await call('POST', '/v1/datanets', owner, { name: 'Paid', format: 'alpaca', policies: { access: { kind: 'paid', priceWei: price.toString() } } })).json().id;
    const rows = (n: number, who: string) =>
      Array.from({ length: n }, (_, i) => JSON.stringify({ instruction: `What is fact number ${i} about ${who}?`, output: `Fact ${i} about ${who} is that it was recorded by ${who} in the demo.` })).join('\n');
    assert.equal((await upload(alice, id, rows(2, 'alice'), 'a.jsonl', 'alpaca')).json().accepted, 2);
    assert.equal((await upload(validator, id, rows(1, 'victor'), 'v.jsonl', 'alpaca')).json().accepted, 1);
    await call('POST', `/v1/datanets/${id}/versions`, owner);
    assert.equal(errCode(await call('GET', `/v1/datanets/${id}/versions/1/export`, buyer)), 'no_read_access');
    const balBefore = await actions.tokenBalance(node.services.chain, { owner: buyer.address });
    const p = await call('POST', `/v1/datanets/${id}/purchase`, buyer, {});
    assert.equal(p.statusCode, 200, p.body);
    assert.equal(balBefore - (await actions.tokenBalance(node.services.chain, { owner: buyer.address })), price);
    const credits = new Map(p.json().credits.map((c: any) => [c.contributor, BigInt(c.amountWei)]));
    assert.equal((credits.get(alice.address) as bigint) + (credits.get(validator.address) as bigint), price);
    // 2/3 and 1/3 of the price in integers; the 1 wei remainder goes to the larger fractional part (victor's)
    assert.equal(credits.get(alice.address), (price * 2n) / 3n);
    assert.equal(credits.get(validator.address), price / 3n + 1n);
    assert.equal((await call('GET', `/v1/datanets/${id}/versions/1/export`, buyer)).statusCode, 200);
    assert.equal((await call('GET', `/v1/datanets/${id}/versions/1/export`, outsider)).statusCode, 403);
    // buying twice is idempotent
    assert.equal((await call('POST', `/v1/datanets/${id}/purchase`, buyer, {})).json().txHash, p.json().txHash);
    // a purchase made directly on chain (not through the API) is credited once the indexer has seen it
    const direct = await purchaseAccess(node.services.chain, BigInt(id), price, alice);
    await node.services.waitForIndex(direct.blockNumber);
    const all = (await call('GET', `/v1/datanets/${id}/credits`)).json().data;
    const total = all.reduce((s: bigint, c: any) => s + BigInt(c.amountWei), 0n);
    assert.equal(total, 2n * price);
    // the factory's entry point follows the same policy
    const svc = node.services.modules.datanets as any;
    assert.equal((await svc.trainingRows(id, 1, buyer.address)).rows.length, 3);
    await assert.rejects(svc.trainingRows(id, 1, outsider.address), (e: any) => e.code === 'no_read_access');
  });

  test('wallet flow: prepare returns EIP-712 typed data; JSON rows upload with it; quotas', async () => {
    const id = (await call('POST', '/v1/datanets', owner, { name: 'Chat', format: 'sharegpt', policies: { quota: { userUploadsPerDay: 1 } } })).json().id;
    const rows = [{ conversations: [{ from: 'human', value: 'What does a validator do?' }, { from: 'gpt', value: 'It reviews pending rows and votes to accept or reject them.' }] }];
    const prep = await call('POST', `/v1/datanets/${id}/contributions/prepare`, alice, { rows });
    assert.equal(prep.statusCode, 200, prep.body);
    const td = prep.json().typedData;
    assert.equal(td.primaryType, 'Contribution');
    assert.equal(td.domain.verifyingContract, node.services.chain.addresses.contracts.DatanetRegistry);
    const { EIP712Domain: _, ...types } = td.types;
    const m = td.message;
    const signature = await alice.signTypedData({
      domain: td.domain,
      types,
      primaryType: 'Contribution',
      message: { ...m, datanetId: BigInt(m.datanetId), rowCount: BigInt(m.rowCount), nonce: BigInt(m.nonce), deadline: BigInt(m.deadline) },
    });
    const up = await call('POST', `/v1/datanets/${id}/contributions`, alice, { rows, nonce: m.nonce, deadline: m.deadline, signature });
    assert.equal(up.statusCode, 201, up.body);
    assert.equal(up.json().accepted, 1);
    // second upload the same day exceeds the per-user quota of 1 upload
    const rows2 = [{ conversations: [{ from: 'human', value: 'And an owner?' }, { from: 'gpt', value: 'Creates the datanet and publishes its versions.' }] }];
    const prep2 = (await call('POST', `/v1/datanets/${id}/contributions/prepare`, alice, { rows: rows2 })).json().typedData.message;
    const sig2 = await alice.signTypedData({
      domain: td.domain, types, primaryType: 'Contribution',
      message: { ...prep2, datanetId: BigInt(prep2.datanetId), rowCount: BigInt(prep2.rowCount), nonce: BigInt(prep2.nonce), deadline: BigInt(prep2.deadline) },
    });
    const q = await call('POST', `/v1/datanets/${id}/contributions`, alice, { rows: rows2, nonce: prep2.nonce, deadline: prep2.deadline, signature: sig2 });
    assert.equal(q.statusCode, 429);
    assert.equal(errCode(q), 'quota_exceeded');
  });

  test('a large upload does not stop the node serving others', async () => {
    const id = (await call('POST', '/v1/datanets', owner, { name: 'Big', format: 'text', policies: { quota: { userBytesPerDay: 50_000_000, datanetBytesPerDay: 50_000_000 } } })).json().id;
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) lines.push(JSON.stringify({ text: `Synthetic fact ${i}: the river ${i % 97} flows past town ${i} and meets the sea at port ${i * 7}.` }));
    const body = enc(lines.join('\n'));
    const sig = await signed(alice, id, body, 'big.jsonl', 'text');
    const t0 = Date.now();
    let bigDone = 0;
    const big = upload(alice, id, body, 'big.jsonl', 'text', sig).then((r) => {
      bigDone = Date.now();
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    const health = await call('GET', '/health');
    const healthAt = Date.now();
    const res = await big;
    assert.equal(health.statusCode, 200);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().accepted, 10_000);
    console.log(`# 10k-row upload ${bigDone - t0} ms; /health answered after ${healthAt - t0} ms`);
    assert.ok(healthAt < bigDone, 'health answered while the upload was still being processed');
  });
});
