/**
 * `openledger escrow`: a payer's prepaid OPEN in InferenceEscrow, which paid calls are charged to.
 *
 *   openledger escrow balance [--as 2]           balance, pending withdrawal, held, unsettled, available
 *   openledger escrow deposit 10 [--as 2]        EIP-2612 permit + depositWithPermit (one tx, no approve), then
 *                                                a spend authorization for the new balance (--no-authorize: not)
 *   openledger escrow deposit 10 --no-permit     from an allowance set earlier (refused clearly without one)
 *   openledger escrow authorize 5 [--days 30]    sign an EIP-712 SpendAuthorization: the node may charge up to
 *                                                5 OPEN of calls until it expires (the node relays it, no gas)
 *   openledger escrow withdraw 5                 request a withdrawal (stays debitable until completed)
 *   openledger escrow withdraw --complete        complete it after the escrow's withdrawal delay
 *
 * Transactions are signed by the dev account itself (the node never holds a payer's key): the
 * command reads the chain's RPC URL and contract addresses from the node (GET /v1/status).
 * Amounts are OPEN (decimal, 18 decimals) unless --wei.
 */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { formatUnits, getAddress, isAddress, parseUnits, type Address } from 'viem';
import type { Chain } from '../../chain/index.ts';
import { makePublicClient, makeWalletClient } from '../../chain/clients.ts';
import { customChain } from '../../chain/presets.ts';
import type { AddressBook } from '../../chain/address-book.ts';
import { actions } from '../../chain/index.ts';
import { depositToEscrow, requestEscrowWithdrawal, withdrawEscrow } from '../../rewards/index.ts';
import { invalid } from '../../util/errors.ts';
import { devAccount, NodeClient, userOptions, type UserOptions } from '../client.ts';
import { printJson, printTable } from '../output.ts';
import { keccak256, toHex, type Account, type HDAccount } from 'viem';

/** OPEN amount ("1.5") or wei ("1500000000000000000" with --wei) → wei; > 0. */
export function parseAmount(v: string, wei: boolean): bigint {
  const ok = wei ? /^\d{1,78}$/.test(v) : /^\d{1,60}(\.\d{1,18})?$/.test(v);
  if (!ok) throw invalid(`"${v}" is not an amount of ${wei ? 'wei (a whole number)' : 'OPEN (e.g. 10 or 0.5, up to 18 decimals)'}`, { param: 'amount', code: 'invalid_amount' });
  const x = wei ? BigInt(v) : parseUnits(v, 18);
  if (x <= 0n) throw invalid('the amount must be more than 0', { param: 'amount', code: 'invalid_amount' });
  return x;
}

export const fmt = (wei: string | bigint) => `${formatUnits(BigInt(wei), 18)} OPEN`;

/** A chain handle for signing as `account`, from the node's /v1/status (RPC URL, chain id, contracts). */
export async function chainFromNode(client: NodeClient): Promise<Chain> {
  const st = await client.request('GET', '/v1/status');
  const viemChain = customChain(st.chainId, st.rpcUrl);
  const publicClient = makePublicClient(st.rpcUrl, viemChain, st.embeddedChain ? 100 : 1000);
  return {
    chainId: st.chainId, rpcUrl: st.rpcUrl, publicRpcUrl: st.rpcUrl, embedded: st.embeddedChain, publicClient,
    async persist() {}, // the node's RPC gateway makes what the user sends durable
    operator: undefined as unknown as Account, roles: undefined as never, // the CLI signs as the user only
    walletFor: (a: Account) => makeWalletClient(st.rpcUrl, viemChain, a, st.embeddedChain ? 100 : 1000),
    addresses: { chainId: st.chainId, contracts: st.contracts, deploymentBlock: 0n, ...st.contracts } as unknown as AddressBook,
    moneyReadTag: st.embeddedChain ? 'latest' : 'finalized', confirmations: 0, anvilPid: null, async stop() {},
  };
}

/** The address a command is about: --address, else the dev account of --as. */
export function whoOf(o: UserOptions & { address?: string }): Address {
  if (o.address) {
    if (!isAddress(o.address, { strict: false })) throw invalid(`"${o.address}" is not an Ethereum address`, { param: 'address', code: 'invalid_address' });
    return getAddress(o.address);
  }
  return devAccount(o.dataDir, o.as).address;
}

const days = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw invalid(`--days must be a whole number of days from 1 to 3650, got "${v}"`, { param: 'days', code: 'invalid_option' });
  return n;
};

/** Sign a SpendAuthorization with the payer's key; the node relays it (POST /v1/escrow/authorizations). */
async function authorize(client: NodeClient, account: HDAccount, cap: bigint, days: number, scope: string | null) {
  const chain = await chainFromNode(client);
  const auth = {
    payer: account.address, scope: scope ? keccak256(toHex(scope)) : (`0x${'00'.repeat(32)}` as const), cap,
    expiry: BigInt(Math.floor(Date.now() / 1000) + days * 86_400), nonce: BigInt(`0x${randomBytes(16).toString('hex')}`), // any unused nonce
  };
  const signature = await actions.signSpendAuthorization(chain, account, auth);
  if (!client.token) await client.signIn(account);
  return client.request('POST', '/v1/escrow/authorizations', { payer: auth.payer, scope: auth.scope, cap: cap.toString(), expiry: Number(auth.expiry), nonce: auth.nonce.toString(), signature });
}

export function escrowCommands(program: Command) {
  const escrow = program.command('escrow').description('your prepaid OPEN in InferenceEscrow, which paid model calls are charged to');

  userOptions(escrow.command('balance').description('escrow balance, pending withdrawal, held by running requests, charged but unsettled, available for new calls')
    .option('--address <address>', 'any address instead of a dev account'))
    .action(async (o: UserOptions & { address?: string }) => {
      const b = await new NodeClient(o.api).request('GET', `/v1/escrow/${whoOf(o)}`);
      if (o.json) return printJson(b);
      printTable([
        { what: 'balance', OPEN: formatUnits(BigInt(b.balance), 18), wei: b.balance },
        { what: 'authorized to charge (remaining)', OPEN: formatUnits(BigInt(b.authorization?.remaining ?? 0), 18), wei: b.authorization?.remaining ?? '0' },
        { what: 'held (running requests)', OPEN: formatUnits(BigInt(b.held), 18), wei: b.held },
        { what: 'charged, not yet settled', OPEN: formatUnits(BigInt(b.unsettled), 18), wei: b.unsettled },
        { what: 'available for new calls', OPEN: formatUnits(BigInt(b.available), 18), wei: b.available },
      ]);
      if (!b.authorization) console.log('no spend authorization: the node cannot charge calls (`openledger escrow authorize <OPEN>`)');
      else console.log(`authorization: cap ${fmt(b.authorization.cap)}, spent ${fmt(b.authorization.spent)}, expires ${new Date(b.authorization.expiry * 1000).toISOString()}`);
      if (b.pending_withdrawal) console.log(`pending withdrawal: ${fmt(b.pending_withdrawal.amount)}, ready at ${new Date(b.pending_withdrawal.available_at * 1000).toISOString()}`);
      console.log(`account ${b.address}`);
    });

  userOptions(escrow.command('deposit <amount>').description('deposit OPEN into the escrow (EIP-2612 permit: one transaction, no approve) and authorize the node to charge calls up to the new balance')
    .option('--wei', 'the amount is in wei', false)
    .option('--no-permit', 'use an allowance set earlier instead of a permit')
    .option('--no-authorize', 'only deposit: sign no spend authorization')
    .option('--days <n>', 'the authorization lasts this many days', '30'))
    .action(async (amount: string, o: UserOptions & { wei: boolean; permit: boolean; authorize: boolean; days: string }) => {
      const wei = parseAmount(amount, o.wei);
      const account = devAccount(o.dataDir, o.as);
      const client = new NodeClient(o.api);
      const r = await depositToEscrow(await chainFromNode(client), { account, amount: wei, permit: o.permit });
      const auth = o.authorize ? await authorize(client, account, r.newBalance, days(o.days), null) : null;
      if (o.json) return printJson({ account: account.address, amount: wei.toString(), tx_hash: r.txHash, block_number: r.blockNumber.toString(), balance: r.newBalance.toString(), permit: r.permit, authorization: auth });
      console.log(`deposited ${fmt(wei)} for ${account.address}${r.permit ? ' (with a permit)' : ''}`);
      console.log(`tx ${r.txHash} in block ${r.blockNumber}; escrow balance ${fmt(r.newBalance)}`);
      if (auth) console.log(`authorized the node to charge calls up to ${fmt(auth.cap)} until ${new Date(auth.expiry * 1000).toISOString()} (tx ${auth.tx_hash})`);
    });

  userOptions(escrow.command('authorize <cap>').description('sign an EIP-712 spend authorization: the node may charge calls up to <cap> until it expires (replaces the current one; the node relays it)')
    .option('--wei', 'the cap is in wei', false)
    .option('--days <n>', 'how long it lasts', '30')
    .option('--scope <name>', 'only for this API key id or model name (default: any)'))
    .action(async (cap: string, o: UserOptions & { wei: boolean; days: string; scope?: string }) => {
      const wei = parseAmount(cap, o.wei);
      const account = devAccount(o.dataDir, o.as);
      const auth = await authorize(new NodeClient(o.api), account, wei, days(o.days), o.scope ?? null);
      if (o.json) return printJson(auth);
      console.log(`authorized the node to charge ${account.address}'s calls up to ${fmt(auth.cap)} until ${new Date(auth.expiry * 1000).toISOString()}${o.scope ? ` for ${o.scope} only` : ''}`);
      console.log(`tx ${auth.tx_hash}`);
    });

  userOptions(escrow.command('withdraw [amount]').description('request a withdrawal of <amount>; after the delay, complete it with --complete')
    .option('--wei', 'the amount is in wei', false)
    .option('--complete', 'complete the pending withdrawal (after the delay)', false))
    .action(async (amount: string | undefined, o: UserOptions & { wei: boolean; complete: boolean }) => {
      const account = devAccount(o.dataDir, o.as);
      const chain = await chainFromNode(new NodeClient(o.api));
      if (o.complete) {
        if (amount !== undefined) throw invalid('--complete takes no amount (it pays out the pending request)', { param: 'amount', code: 'unexpected_amount' });
        const r = await withdrawEscrow(chain, { account });
        if (o.json) return printJson({ account: account.address, amount: r.amount.toString(), tx_hash: r.txHash, block_number: r.blockNumber.toString() });
        console.log(`withdrew ${fmt(r.amount)} to ${account.address}; tx ${r.txHash}`);
        return;
      }
      if (amount === undefined) throw invalid('give the amount to withdraw (or --complete to finish a pending withdrawal)', { param: 'amount', code: 'amount_required' });
      const wei = parseAmount(amount, o.wei);
      const r = await requestEscrowWithdrawal(chain, { account, amount: wei });
      const at = new Date(Number(r.availableAt) * 1000).toISOString();
      if (o.json) return printJson({ account: account.address, amount: wei.toString(), available_at: Number(r.availableAt), tx_hash: r.txHash });
      console.log(`withdrawal of ${fmt(wei)} requested; complete it from ${at} with \`openledger escrow withdraw --complete\``);
      console.log(`tx ${r.txHash} (the amount stays chargeable for calls already served until then)`);
    });
}
