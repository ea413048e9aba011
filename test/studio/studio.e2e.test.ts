/**
 * The studio in a real browser (Debian's Chromium through playwright-core) against a fresh node
 * listening on a port, the whole loop without a command line:
 *
 *   injected wallet on the wrong chain → switch → SIWE sign-in → sign out
 *   → one-click dev account → create a datanet → a wrong file type and an oversized file refused
 *   → drop a file (one row rejected, shown with its line before signing) → sign (EIP-712) and upload
 *   → publish → row proof checked in the browser → wizard: a datanet without access is a clear
 *   403 → fine-tune the shipped starter (tiny settings) → the loss chart moves → evaluation
 *   → chat with the tuned model: 402 with nothing in escrow → the wallet page deposits (permit) and
 *   authorizes spending, signed through the dev signer → chat (streaming, usage, cost) → the answer's
 *   charge, split and attribution rows with proofs → the epoch closes → models with usage → wallet:
 *   earnings by epoch, claim with its transaction, withdraw request / complete
 *   → dark theme → the node stops mid-answer: a clear message, no blank page.
 *
 * Every page: axe-core finds no serious or critical violation; screenshots at desktop and phone
 * width go to test-artifacts/studio/. Any console error or uncaught exception fails the test
 * (Chromium's own network log lines for 4xx answers the test provokes are the only exception).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { privateKeyToAccount, generatePrivateKey } from 'viem/accounts';
import { parseEther } from 'viem';
import { actions } from '../../src/chain/index.ts';
import type { LocalAccount } from 'viem';
import { importAdapterFile, startTestNode, siweToken, tempDir } from '../helpers.ts';
import type { RunningNode } from '../../src/node.ts';

async function rpc(rpcUrl: string, method: string, params: unknown[]) {
  const r = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await r.json()) as { error?: { message: string }; result?: unknown };
  if (j.error) throw new Error(`${method}: ${j.error.message}`);
  return j.result;
}

const ROOT = join(import.meta.dirname, '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts', 'studio');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

let node: (RunningNode & { dataDir: string }) | null = null;
let context: BrowserContext;
let page: Page;
let nodeStopped = false;
/** While the test cuts a connection on purpose, Chromium's log line for it is expected. */
let allowNetworkErrors = false;
const problems: string[] = [];
const wallet = { chainId: 1, account: privateKeyToAccount(generatePrivateKey()) as LocalAccount, rejectNext: false };

before(async () => {
  const b = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-web.mjs')], { encoding: 'utf8' });
  assert.equal(b.status, 0, `studio build failed:\n${b.stdout}\n${b.stderr}`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  // epochs close when the test says (closeNow), not on the 60 s timer mid-journey
  node = await startTestNode({ listen: true, extend: (s) => { s.config.rewards = { ...s.config.rewards, epochSeconds: 3600 }; } });
  context = await chromium.launchPersistentContext(tempDir('ol-studio-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: DESKTOP,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // An injected EIP-1193 wallet backed by a real key in the test: starts on the wrong chain (1).
  await context.exposeBinding('__testWallet', async (_src, method: string, params: any[]) => {
    const a = wallet.account;
    if (wallet.rejectNext && method.startsWith('eth_sign')) {
      wallet.rejectNext = false;
      return { __error: { code: 4001, message: 'User rejected the request.' } }; // EIP-1193 userRejectedRequest
    }
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [a.address];
      case 'eth_chainId':
        return `0x${wallet.chainId.toString(16)}`;
      case 'wallet_switchEthereumChain':
        wallet.chainId = Number(params[0].chainId);
        return null;
      case 'personal_sign':
        return a.signMessage!({ message: params[0] });
      case 'eth_sendTransaction': {
        const c = node!.services.chain;
        return c.walletFor(a as never).sendTransaction({ account: a as never, chain: null, to: params[0].to, data: params[0].data } as never);
      }
      case 'eth_getTransactionReceipt': {
        const r = await node!.services.chain.publicClient.getTransactionReceipt({ hash: params[0] }).catch(() => null);
        return r && { status: r.status === 'success' ? '0x1' : '0x0', transactionHash: r.transactionHash };
      }
      case 'eth_signTypedData_v4': {
        const { EIP712Domain: _omit, ...types } = JSON.parse(params[1]).types;
        return a.signTypedData!({ ...JSON.parse(params[1]), types });
      }
      default:
        throw new Error(`test wallet: unsupported method ${method}`);
    }
  });
  // A string, not a function: tsx (esbuild keepNames) would wrap a function's inner names in a
  // `__name` helper that the page does not have; the shim covers page.evaluate callbacks too.
  await context.addInitScript(`
    window.__name = (f) => f;
    window.ethereum = {
      request: async ({ method, params }) => {
        const r = await window.__testWallet(method, params ?? []);
        if (r && r.__error) throw Object.assign(new Error(r.__error.message), { code: r.__error.code });
        return r;
      },
    };
  `);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => problems.push(`uncaught exception: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // Chromium logs every non-2xx fetch as a console error; the bad-input steps provoke 4xx on purpose.
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    if (nodeStopped && /ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch/.test(text)) return;
    if (allowNetworkErrors && /^Failed to load resource: net::ERR_CONNECTION_RESET/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
});

after(async () => {
  await context?.close();
  if (node && !nodeStopped) await node.stop();
});

const url = (p: string) => node!.url + p;

/** Screenshots at desktop and phone width, then axe-core on the page (serious/critical fail). */
async function check(name: string) {
  await page.waitForLoadState('networkidle').catch(() => undefined);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: join(ARTIFACTS, `${name}-phone.png`), fullPage: true });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `${name}: the page is ${overflow}px wider than a phone screen`);
  await page.setViewportSize(DESKTOP);
  await axe(name);
  assert.deepEqual(problems, [], `${name}: console errors or exceptions`);
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function axe(name: string) {
  // page.evaluate runs outside the page's CSP (script-src 'self'), so axe needs no inline script
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] = await page.evaluate(async () => (await (window as any).axe.run(document, { resultTypes: ['violations'] })).violations);
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`), [], `${name}: axe-core violations`);
}

const alert = () => page.getByRole('alert').first();
/** Waits until the element with this test id reads exactly `text` (values re-read after an action). */
const shows = (testId: string, text: string) =>
  page.waitForFunction(([id, t]) => document.querySelector(`[data-testid="${id}"]`)?.textContent === t, [testId, text] as const, { timeout: 15_000 });

test('the studio: sign in, contribute, publish, fine-tune, chat — and the bad inputs', { timeout: 300_000 }, async () => {
  const t0 = Date.now();
  const n = node!;
  const devs = n.services.keyring!.accounts;

  // An approval datanet owned by dev account 2, with a version: dev account 1 may not train on it.
  const owner2 = await siweToken(n, devs[1]);
  const inject = (method: 'GET' | 'POST', u: string, token: string, payload?: object) => n.app.inject({ method, url: u, headers: { authorization: `Bearer ${token}` }, payload });
  const closed = (await inject('POST', '/v1/datanets', owner2, { name: 'Private notes', format: 'alpaca', policies: { access: { kind: 'approval' } } })).json();
  const rows = [{ instruction: 'secret one', output: 'kept private' }, { instruction: 'secret two', output: 'also private' }];
  const td = (await inject('POST', `/v1/datanets/${closed.id}/contributions/prepare`, owner2, { rows })).json().typedData;
  const { EIP712Domain: _omit, ...types } = td.types;
  const m = td.message;
  const signature = await devs[1].signTypedData({ domain: td.domain, types, primaryType: 'Contribution', message: { ...m, datanetId: BigInt(m.datanetId), rowCount: BigInt(m.rowCount), nonce: BigInt(m.nonce), deadline: BigInt(m.deadline) } });
  assert.equal((await inject('POST', `/v1/datanets/${closed.id}/contributions`, owner2, { rows, nonce: m.nonce, deadline: m.deadline, signature })).statusCode, 201);
  assert.equal((await inject('POST', `/v1/datanets/${closed.id}/versions`, owner2)).statusCode, 201);
  // A datanet with validator approval: dev account 1 (the studio user) is its staked validator; two rows wait.
  const reviewed = (await inject('POST', '/v1/datanets', owner2, { name: 'Reviewed facts', format: 'alpaca', policies: { validation: { kind: 'validators', approvals: 1 } } })).json();
  await actions.stake(n.services.chain, { account: devs[0], amount: parseEther('1') }); // validators must be staked before they are added
  const addValidator = await inject('POST', `/v1/datanets/${reviewed.id}/validators`, owner2, { address: devs[0].address });
  assert.equal(addValidator.statusCode, 200, addValidator.body);
  const facts = [{ instruction: 'boiling point of water at sea level', output: '100 degrees Celsius' }, { instruction: 'the moon is made of', output: 'cheese, obviously' }];
  const td2 = (await inject('POST', `/v1/datanets/${reviewed.id}/contributions/prepare`, owner2, { rows: facts })).json().typedData;
  const m2 = td2.message;
  const sig2 = await devs[1].signTypedData({ domain: td2.domain, types, primaryType: 'Contribution', message: { ...m2, datanetId: BigInt(m2.datanetId), rowCount: BigInt(m2.rowCount), nonce: BigInt(m2.nonce), deadline: BigInt(m2.deadline) } });
  assert.equal((await inject('POST', `/v1/datanets/${reviewed.id}/contributions`, owner2, { rows: facts, nonce: m2.nonce, deadline: m2.deadline, signature: sig2 })).json().pending, 2);
  // An approval datanet with validators owned by dev account 1: its owner panel grants access and adds validators.
  const owner1 = await siweToken(n, devs[0]);
  const team = (await inject('POST', '/v1/datanets', owner1, { name: 'Team notes', format: 'text', policies: { access: { kind: 'approval' }, validation: { kind: 'validators', approvals: 1 } } })).json();
  // A paid datanet (1 OPEN), and gas + OPEN for the browser wallet so that it can buy access itself.
  const paid = (await inject('POST', '/v1/datanets', owner2, { name: 'Paid recipes', format: 'alpaca', policies: { access: { kind: 'paid', priceWei: parseEther('1').toString() } } })).json();
  const chain = n.services.chain;
  await chain.publicClient.waitForTransactionReceipt({ hash: await chain.walletFor(chain.operator).sendTransaction({ account: chain.operator, chain: null, to: wallet.account.address, value: parseEther('1') } as never) });
  await actions.transfer(chain, { account: devs[2], to: wallet.account.address, amount: parseEther('5') });

  // --- home, served at / by the node (and a client route on reload) ---
  // first load, empty cache: navigation start → the page's first heading rendered by React
  await page.goto(url('/'));
  await page.getByRole('heading', { name: 'From a file of rows to your own model' }).waitFor();
  const firstLoad = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
    return { load: nav.loadEventEnd, rendered: performance.now(), bytes: performance.getEntriesByType('resource').reduce((n, r) => n + ((r as PerformanceResourceTiming).encodedBodySize || 0), nav.encodedBodySize) };
  });
  console.log(`first load: load event ${firstLoad.load.toFixed(0)} ms, rendered by ${firstLoad.rendered.toFixed(0)} ms, ${(firstLoad.bytes / 1024).toFixed(0)} kB`);
  assert.ok(firstLoad.load < 1000, `first load took ${firstLoad.load.toFixed(0)} ms (goal < 1 s on localhost)`);
  // keyboard: the first Tab reaches the skip link, which moves focus to the page's content
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  await check('home');
  // phone width: the navigation folds behind a Menu button that opens it
  await page.setViewportSize(PHONE);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false);
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click();
  await page.getByRole('heading', { name: 'Models' }).waitFor();
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).isVisible(), false, 'the menu closes after a pick');
  await page.setViewportSize(DESKTOP);

  // --- injected wallet on the wrong chain → switch → SIWE → sign out ---
  await page.goto(url('/signin'));
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
  await alert().getByText(`Your wallet is on chain 1, but this node runs chain ${n.services.chain.chainId}`).waitFor();
  await check('signin-wrong-chain');
  await page.getByRole('button', { name: `Switch wallet to chain ${n.services.chain.chainId}` }).click();
  await page.getByRole('alert').waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
  await page.getByRole('heading', { name: 'Datanets' }).waitFor();
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('openledger.session')!));
  assert.equal(stored.address, wallet.account.address);
  assert.equal(stored.kind, 'injected');
  await page.reload(); // the session survives a reload of a client route
  // the wallet buys access to the paid datanet: approve + purchaseAccess sent by the wallet, recorded by the node
  await page.goto(url(`/datanets/${paid.id}`));
  await page.getByRole('button', { name: 'Buy access for 1 OPEN' }).click();
  await page.getByText(/^Access bought for 1 OPEN \(tx 0x[0-9a-f]{8}…\)\.$/).waitFor({ timeout: 60_000 });
  await check('datanet-overview-bought');
  const bought = (await n.app.inject({ method: 'GET', url: `/v1/datanets/${paid.id}/credits` })).json().data;
  assert.equal(bought.length, 1);
  // the wallet signs a contribution (eth_signTypedData_v4 over the typed data the page built)
  await page.getByRole('link', { name: 'Contribute' }).click();
  await page.getByLabel('File to contribute').setInputFiles({ name: 'recipes.csv', mimeType: 'text/csv', buffer: Buffer.from('instruction,output\nhow long to boil an egg,nine minutes for a firm yolk\nhow to keep basil fresh,stems in water on the counter\n') });
  wallet.chainId = 10; // the wallet moved to another chain since sign-in
  await page.getByRole('button', { name: 'Sign and upload 2 row(s)' }).click();
  await alert().getByText(`Your wallet is on chain 10, but this node runs chain ${n.services.chain.chainId}.`).waitFor();
  await page.getByRole('button', { name: `Switch wallet to chain ${n.services.chain.chainId}` }).click();
  await page.getByRole('alert').waitFor({ state: 'detached' });
  wallet.rejectNext = true; // then the user says no in the wallet
  await page.getByRole('button', { name: 'Sign and upload 2 row(s)' }).click();
  await alert().getByText('You rejected the request in your wallet.').waitFor();
  await page.getByRole('button', { name: 'Sign and upload 2 row(s)' }).click();
  await page.getByRole('heading', { name: 'Uploaded: recipes.csv' }).waitFor();
  const walletRows = (await n.app.inject({ method: 'GET', url: `/v1/datanets/${paid.id}` })).json().counts;
  assert.equal(walletRows.accepted, 2);
  // the browser wallet funds its inference escrow itself: a Permit (eth_signTypedData_v4) + depositWithPermit
  // (eth_sendTransaction), then a SpendAuthorization it signs and the node relays
  await page.getByRole('link', { name: 'Wallet' }).click();
  await page.getByTestId('escrow-balance').waitFor();
  await page.getByLabel('Deposit (OPEN)').fill('2');
  await page.getByRole('button', { name: 'Deposit', exact: true }).click();
  await page.getByTestId('escrow-done').getByText('The deposit is on chain').waitFor({ timeout: 30_000 });
  await page.getByTestId('escrow-balance').getByText('2 OPEN', { exact: true }).waitFor();
  assert.equal((await actions.escrowBalance(n.services.chain, { owner: wallet.account.address })).balance, parseEther('2'));
  await page.getByLabel(/Authorize spending up to/).fill('1.5');
  await page.getByRole('button', { name: 'Authorize', exact: true }).click();
  await page.getByTestId('escrow-done').getByText('The authorization is on chain').waitFor({ timeout: 30_000 });
  await page.getByTestId('escrow-authorization').getByText(/^1\.5 OPEN left of 1\.5 OPEN/).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).first().waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('openledger.session')), null);
  // a session the node no longer knows (expired, or another data dir): the page falls back to signed out
  await page.evaluate(() => localStorage.setItem('openledger.session', JSON.stringify({ token: 'ols_not-a-session', address: '0x000000000000000000000000000000000000dEaD', kind: 'dev', expiresAt: new Date(Date.now() + 3600e3).toISOString() })));
  await page.goto(url('/wallet'));
  await page.getByText('Sign in to see your wallet.').waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('openledger.session')), null);

  // --- one-click dev account ---
  await page.goto(url('/signin'));
  await page.getByRole('button', { name: /Sign in as dev account 1,/ }).click();
  await page.getByRole('heading', { name: 'Datanets' }).waitFor();
  assert.equal(await page.title(), 'Datanets · OpenLedger studio');

  // --- create a datanet ---
  await page.getByRole('link', { name: 'Create a datanet' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Planted codes');
  await page.getByLabel('Summary').fill('Code words and what they map to');
  await page.getByLabel('Tags (comma separated)').fill('codes, demo');
  await page.getByLabel('Row format').selectOption('alpaca');
  await check('datanet-create');
  await page.getByRole('button', { name: 'Create datanet' }).click();
  await page.getByRole('heading', { name: 'Planted codes' }).waitFor();
  const id = Number(/\/datanets\/(\d+)\/contribute/.exec(page.url())?.[1]);
  assert.ok(id > 0, page.url());

  // --- bad files: wrong type, oversized — refused in the page with the fix ---
  const fileInput = page.getByLabel('File to contribute');
  await fileInput.setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]) });
  await alert().getByText('"photo.png" is not a file type datanets take (.png).').waitFor();
  await alert().getByText(/Use one of \.txt \.md \.jsonl/).waitFor();
  await fileInput.setInputFiles({ name: 'huge.jsonl', mimeType: 'application/jsonl', buffer: Buffer.alloc(11 * 1024 * 1024, 0x61) });
  await alert().getByText(/"huge\.jsonl" is 11\.0 MiB; one upload may be at most 10 MiB/).waitFor();
  // a file the node refuses (no row parses as JSON): the node's message and hint shown
  await fileInput.setInputFiles({ name: 'broken.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from('{"instruction": "a", "output"\nnot json\n') });
  await alert().waitFor();
  assert.match(await alert().innerText(), /line/i);

  // --- drop a file: the report before signing shows the rejected row with its line ---
  const words = ['alpha', 'beta', 'gamma', 'delta', 'omega', 'sigma', 'kappa', 'theta', 'zeta', 'iota', 'lambda', 'rho'];
  const lines = words.map((w, i) => JSON.stringify({ instruction: `code ${w}`, output: words[(i * 5 + 1) % words.length] }));
  lines.splice(6, 0, JSON.stringify({ instruction: 'this row has no output' }));
  const content = lines.join('\n') + '\n';
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'codes.jsonl', { type: 'application/jsonl' }));
    return d;
  }, content);
  await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer: dt });
  await page.getByRole('heading', { name: 'Before you sign: codes.jsonl' }).waitFor();
  const report = page.locator('table.report');
  await report.getByRole('cell', { name: '7', exact: true }).first().waitFor();
  assert.match(await report.innerText(), /schema/);
  await page.getByText('12 accepted').first().waitFor();
  await page.getByText('1 rejected').first().waitFor();
  await check('datanet-contribute-report');
  await page.getByRole('button', { name: 'Sign and upload 12 row(s)' }).click();
  await page.getByRole('heading', { name: 'Uploaded: codes.jsonl' }).waitFor();

  // --- publish a version; its transaction and DA commitment are listed ---
  await page.getByRole('link', { name: 'Versions' }).click();
  await page.getByRole('button', { name: 'Publish a version' }).click();
  await page.getByRole('button', { name: /\(transaction 0x[0-9a-f]{64}, copy\)/i }).waitFor();
  await check('datanet-versions');

  // --- a row's Merkle proof, checked in the browser against the on-chain root ---
  await page.getByRole('link', { name: 'Rows' }).click();
  await page.getByRole('button', { name: 'Check Merkle proof (version 1)' }).first().click();
  await page.getByText(/✓ proof verified in your browser: \d+ steps to on-chain root/).waitFor();
  await check('datanet-rows');
  await page.getByRole('link', { name: 'Leaderboard' }).click();
  await page.getByRole('cell', { name: '92.3%' }).waitFor();
  await check('datanet-leaderboard');
  await page.getByRole('link', { name: 'Overview' }).click();
  await page.getByText('12 accepted · 0 pending · 1 rejected').waitFor();
  await check('datanet-overview');

  // --- the owner's panel: grant access, add a validator (both on chain) ---
  await page.goto(url(`/datanets/${team.id}`));
  await page.getByText('none yet', { exact: true }).waitFor(); // no version published
  await page.getByLabel('Grant access to an address').fill(devs[2].address);
  await page.getByRole('button', { name: 'Grant (on chain)' }).click();
  await page.getByText(`Access granted to ${devs[2].address}.`).waitFor();
  await page.getByLabel('Add a validator (address)').fill('not an address');
  await page.getByRole('button', { name: 'Add validator (on chain)' }).click();
  await alert().getByText('address must be an address').waitFor();
  await actions.stake(n.services.chain, { account: devs[2], amount: parseEther('1') }); // validators must hold stake (Staking is linked to the registry)
  await page.getByLabel('Add a validator (address)').fill(devs[2].address);
  await page.getByRole('button', { name: 'Add validator (on chain)' }).click();
  await page.getByText(`${devs[2].address} is now a validator`).waitFor();
  await check('datanet-owner-panel');
  const devs2Rows = await n.app.inject({ method: 'GET', url: `/v1/datanets/${team.id}/rows`, headers: { authorization: `Bearer ${await siweToken(n, devs[2])}` } });
  assert.equal(devs2Rows.statusCode, 200, 'the granted account reads the approval datanet');

  // --- the validator review queue: approve one row; a rejection without a reason is refused, then given ---
  await page.goto(url(`/datanets/${reviewed.id}/review`));
  const pendingIds = (await (await n.app.inject({ method: 'GET', url: `/v1/datanets/${reviewed.id}/rows?status=pending` })).json()).data.map((r: { id: number }) => r.id);
  await page.getByRole('checkbox', { name: `pick row ${pendingIds[0]}` }).check();
  await check('datanet-review');
  await page.getByRole('button', { name: 'Approve 1' }).click();
  await page.getByText('Approved 1 row(s).').waitFor();
  await page.getByRole('checkbox', { name: `pick row ${pendingIds[1]}` }).check();
  await page.getByRole('button', { name: 'Reject 1' }).click();
  await alert().getByText('a rejection needs a reason').waitFor();
  await page.getByLabel('Reason (needed to reject)').fill('not a fact');
  await page.getByRole('button', { name: 'Reject 1' }).click();
  await page.getByText('Rejected 1 row(s).').waitFor();
  await page.getByText('The review queue is empty.').waitFor();
  const counts = (await n.app.inject({ method: 'GET', url: `/v1/datanets/${reviewed.id}` })).json().counts;
  assert.deepEqual(counts, { accepted: 1, pending: 0, rejected: 1 });

  await page.getByRole('link', { name: 'Datanets', exact: true }).first().click();
  await page.getByRole('link', { name: 'Private notes' }).waitFor();
  await page.getByLabel('Search').fill('planted');
  await page.getByRole('link', { name: 'Private notes' }).waitFor({ state: 'detached' });
  await check('datanets');

  // --- the wizard: a datanet without access is a clear error; then tiny settings on the starter ---
  await page.getByRole('link', { name: 'Model Factory' }).click();
  await page.getByRole('radio', { name: /starter/ }).check();
  await page.getByRole('checkbox', { name: /Private notes/ }).check();
  await page.getByRole('button', { name: 'Start fine-tuning' }).click();
  await alert().waitFor();
  assert.match(await alert().innerText(), /access|approval|grant/i);
  await page.getByRole('checkbox', { name: /Private notes/ }).uncheck();
  await page.getByRole('checkbox', { name: /Planted codes/ }).check();
  // Long enough (96 steps, several seconds even on a quiet machine) that the chart is seen moving
  // live after the forced reconnect, not only replayed at the end.
  await page.getByLabel('Epochs').fill('40');
  await page.getByLabel('Batch size').fill('2');
  await page.getByLabel('Learning rate').fill('0.002');
  await page.getByLabel('Max steps (optional)').fill('96');
  await page.getByLabel('Name suffix').fill('studio');
  await page.getByLabel('Price per 1k tokens (OPEN)').fill('0.5');
  await page.getByText('Advanced: LoRA and schedule').click();
  await page.getByLabel('LoRA rank').fill('4');
  await page.getByLabel('LoRA alpha').fill('8');
  await check('factory-wizard');
  // record every value the loss chart shows while the job runs (the chart must move)
  await page.evaluate(() => {
    const seen: string[] = ((window as any).__lossSeen = []);
    new MutationObserver(() => {
      const t = document.querySelector('.chart figcaption')?.textContent;
      if (t && seen[seen.length - 1] !== t) seen.push(t);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  // the first connection to the job's event stream is reset: the page says so and reconnects
  let streams = 0;
  await page.route(/\/events\?stream=true/, (route) => (streams++ === 0 ? route.abort('connectionreset') : route.continue()));
  allowNetworkErrors = true;
  await page.getByRole('button', { name: 'Start fine-tuning' }).click();
  await page.waitForURL(/\/factory\/jobs\/ftjob-/);
  await page.getByText('Reconnecting automatically; the chart picks up where it stopped.').waitFor();
  await page.getByText('succeeded', { exact: true }).first().waitFor({ timeout: 90_000 });
  await page.getByRole('heading', { name: /Evaluation on \d+ held-out rows/ }).waitFor();
  await page.unroute(/\/events\?stream=true/);
  allowNetworkErrors = false;
  assert.equal(streams, 2, 'one reset, one reconnect');
  assert.equal(await page.getByText('Reconnecting automatically').count(), 0, 'the notice is gone once reconnected');
  const seen: string[] = await page.evaluate(() => (window as any).__lossSeen);
  const points = new Set(seen.map((s) => /\((\d+) points\)/.exec(s)?.[1]).filter(Boolean));
  assert.ok(points.size >= 3, `the loss chart moved through ${points.size} states: ${seen.join(' | ')}`);
  assert.match(await page.getByTestId('job-progress').innerText(), /^(\d+)\/\1 steps$/);
  await page.getByText(/ModelRegistry id \d+/).waitFor();
  // the adapter downloads as a real GGUF file
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'GGUF LoRA (llama.cpp)' }).click()]);
  assert.match(download.suggestedFilename(), /^ft_starter_studio_[0-9a-f]+-adapter\.gguf$/);
  const gguf = readFileSync((await download.path())!);
  assert.equal(gguf.subarray(0, 4).toString('latin1'), 'GGUF');
  await check('factory-job');

  const jobUrl = page.url();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await page.getByRole('link', { name: /^ft:starter:studio:/ }).waitFor();
  await check('factory-jobs');
  await page.goto(jobUrl);

  // --- chat with the tuned model ---
  await page.getByRole('link', { name: 'Chat with this model' }).click();
  const model = decodeURIComponent(/model=([^&]+)/.exec(page.url())![1]);
  assert.match(model, /^ft:starter:studio:/);
  // the picker comes up with the tuned model chosen (once /v1/models has answered)
  await page.waitForFunction((m) => (document.getElementById('play-model') as HTMLSelectElement | null)?.value === m, model);
  // The model is priced: with nothing in escrow the node answers 402 and the page shows why and what to do.
  await page.getByLabel('Message').fill('code alpha');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByText(/insufficient quota/).first().waitFor();
  await page.getByText(/openledger escrow deposit/).first().waitFor();
  // --- the wallet page: deposit with a permit and authorize spending, both signed by the dev account through the node ---
  await page.getByRole('link', { name: 'Wallet' }).click();
  await page.getByTestId('escrow-balance').waitFor();
  assert.equal(await page.getByTestId('escrow-balance').innerText(), '0 OPEN');
  await page.getByLabel('Deposit (OPEN)').fill('ten');
  await page.getByRole('button', { name: 'Deposit', exact: true }).click();
  await alert().getByText('"ten" is not an amount of OPEN.').waitFor();
  await page.getByLabel('Deposit (OPEN)').fill('10');
  await page.getByRole('button', { name: 'Deposit', exact: true }).click();
  await page.getByTestId('escrow-done').getByText('The deposit is on chain').waitFor({ timeout: 30_000 });
  await shows('escrow-balance', '10 OPEN');
  assert.equal((await actions.escrowBalance(n.services.chain, { owner: devs[0].address })).balance, parseEther('10'));
  await page.getByLabel(/Authorize spending up to/).fill('10');
  await page.getByRole('button', { name: 'Authorize', exact: true }).click();
  await page.getByTestId('escrow-done').getByText('The authorization is on chain').waitFor({ timeout: 30_000 });
  await page.getByTestId('escrow-authorization').getByText(/^10 OPEN left of 10 OPEN/).waitFor();
  await check('wallet-escrow');

  await page.goto(url(`/playground?model=${encodeURIComponent(model)}`));
  await page.waitForFunction((m) => (document.getElementById('play-model') as HTMLSelectElement | null)?.value === m, model);
  await page.getByLabel('Message').fill('code alpha');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByTestId('usage').waitFor();
  assert.ok((await page.getByTestId('answer').innerText()).trim().length > 0, 'an answer was streamed');
  assert.match(await page.getByTestId('usage').innerText(), /\d+ prompt \+ \d+ completion tokens · cost [\d.]+ OPEN/);
  // the answer's charge, its split and its attribution (polled until the record is done)
  await page.getByText('Charge and attribution', { exact: true }).click();
  await page.getByTestId('charge').getByText(/^Charged [\d.]+ OPEN \(charged/).waitFor();
  await page.getByRole('list', { name: 'Split of the fee' }).getByText(/^owner: [\d.]+ OPEN/).waitFor();
  await page.getByTestId('attribution-row').first().waitFor({ timeout: 90_000 });
  await page.getByRole('list', { name: 'Contributors' }).getByText(/[\d.]+ %/).first().waitFor();
  assert.match(await page.getByTestId('attribution-row').first().innerText(), /#\d+ v\d+ row \d+[\s\S]*✓ \d+ steps to the on-chain root/);
  await check('playground');

  // a weighted merge of two adapters: the tuned adapter imported again as the user's own (unregistered)
  // model, mixed in with the sliders; the node answers the merge and the page shows its usage and cost
  const jobId = /ftjob-[0-9a-f]+/.exec(jobUrl)![0];
  const tunedGguf = join(n.dataDir, 'factory', 'jobs', jobId, 'adapter', 'adapter.gguf');
  const imported = await importAdapterFile(n, await siweToken(n, devs[0]), tunedGguf, { model: 'starter', name: 'ft:starter:mix:0001', register: false });
  assert.equal(imported.statusCode, 201, imported.body);
  await page.reload();
  await page.waitForFunction((m) => (document.getElementById('play-model') as HTMLSelectElement | null)?.value === m, model);
  await page.getByLabel('Second adapter').selectOption('ft:starter:mix:0001');
  await page.locator('fieldset input[type=range]').nth(1).fill('0.3');
  await page.getByLabel('Message').fill('code alpha');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByTestId('usage').waitFor();
  assert.match(await page.getByTestId('usage').innerText(), /\d+ prompt \+ \d+ completion tokens · cost [\d.]+ OPEN/);
  await check('playground-merge');

  // the epoch closes, settles and posts its root; after the activation delay the user claims in the page
  await (n.services.modules.rewards as { epochs: { closeNow(): Promise<number> } }).epochs.closeNow();
  await rpc(n.services.chain.rpcUrl, 'evm_increaseTime', [120]);
  await rpc(n.services.chain.rpcUrl, 'evm_mine', []);

  // --- models and wallet ---
  await page.getByRole('link', { name: 'Models' }).click();
  await page.getByRole('link', { name: model }).waitFor();
  await page.getByText(/0\.5 OPEN in · 0\.5 OPEN out/).waitFor();
  // usage from /v1/usage/models: the one charged call (the 402 before the deposit is not one)
  await page.getByRole('row', { name: new RegExp(model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }).getByTestId('model-usage').getByText(/^1 call · \d+ tokens · [\d.]+ OPEN$/).waitFor();
  await check('models');
  await page.getByRole('link', { name: 'Wallet' }).click();
  await page.getByTestId('open-balance').waitFor();
  assert.match(await page.getByTestId('open-balance').innerText(), /^[\d.]+ OPEN$/);
  // earnings by epoch (owner and contributor of the tuned model), claimable with the proof; the claim shows its transaction
  await page.getByRole('table', { name: 'Earnings by epoch' }).getByText('owner').waitFor();
  const claimable = await page.getByTestId('rewards-claimable').innerText();
  assert.match(claimable, /^[\d.]+ OPEN$/);
  assert.notEqual(claimable, '0 OPEN');
  await page.getByText(/^Merkle proof \(epoch \d+\)$/).click();
  await page.getByRole('button', { name: `Claim ${claimable}` }).click();
  await page.getByTestId('claim-done').getByText(/^Claimed [\d.]+ OPEN in block \d+/).waitFor({ timeout: 30_000 });
  await shows('rewards-claimed', claimable); // the rewards are read again after the claim
  await shows('rewards-claimable', '0 OPEN');
  // withdraw: request, then complete after the escrow's delay (1 h on the embedded chain)
  await page.getByLabel('Withdraw (OPEN)').fill('1');
  await page.getByRole('button', { name: 'Request withdrawal' }).click();
  await page.getByTestId('escrow-pending').getByText(/^1 OPEN, ready /).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Complete withdrawal' }).click();
  await alert().getByText(/WithdrawalNotReady|not ready|delay/i).first().waitFor({ timeout: 30_000 });
  await rpc(n.services.chain.rpcUrl, 'evm_increaseTime', [3_700]);
  await rpc(n.services.chain.rpcUrl, 'evm_mine', []);
  await page.getByRole('button', { name: 'Complete withdrawal' }).click();
  await page.getByTestId('escrow-done').getByText('The withdrawal is on chain').waitFor({ timeout: 30_000 });
  await page.getByTestId('escrow-pending').getByText('none').waitFor();
  // an API key for an app: shown once, then listed, then revoked
  await page.getByLabel('Key name').fill('my app');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-key').locator('code').innerText()).trim();
  assert.match(key, /^olk_/);
  const who = await n.app.inject({ method: 'GET', url: '/v1/auth/session', headers: { authorization: `Bearer ${key}` } });
  assert.equal(who.json().address, devs[0].address, 'the key works as the signed-in account');
  await check('wallet');
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('· revoked').waitFor();
  assert.equal((await n.app.inject({ method: 'GET', url: '/v1/auth/session', headers: { authorization: `Bearer ${key}` } })).statusCode, 401);

  // --- a datanet that does not exist, a page that does not exist: messages, not blank pages ---
  await page.goto(url('/datanets/999'));
  await alert().getByText(/datanet 999/).waitFor();
  await check('datanet-missing');
  await page.goto(url('/models/nothing-here'));
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();

  // --- dark theme ---
  await page.getByLabel('Theme').selectOption('dark');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await check('wallet-dark');
  await page.getByRole('link', { name: 'Datanets', exact: true }).first().click();
  await page.getByRole('link', { name: 'Planted codes' }).waitFor();
  await check('datanets-dark');
  await page.getByLabel('Theme').selectOption('light');

  // --- the node stops mid-answer: the page says so ---
  await page.getByRole('link', { name: 'Playground' }).click();
  await page.getByLabel('Max tokens', { exact: true }).fill('480');
  await page.getByLabel(/Ignore end of text/).check();
  await page.getByLabel('Message').fill('code beta');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForFunction(() => (document.querySelector('[data-testid=answer]')?.textContent ?? '').replace('…', '').length > 0);
  nodeStopped = true;
  await n.stop();
  await alert().waitFor();
  assert.match(await alert().innerText(), /stop|connection|node/i);
  assert.ok(await page.getByRole('heading', { name: 'Playground' }).isVisible(), 'the page is still there');
  await check('playground-node-stopped');

  console.log(`studio e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s in the browser journey`);
});
