#!/usr/bin/env node
// The chat page against a server that wants tokens (--auth-token-secret):
//   node tests/browser/chat-auth.mjs BASE_URL ALICE_TOKEN BOB_TOKEN CAROL_TOKEN DAN_TOKEN ERIN_TOKEN [SCREENSHOT_DIR]
// alice (WebSocket), bob (SSE), dan (Socket.IO: the token in its CONNECT
// packet) and erin (WebTransport: the token in the session's query) join
// with only a token (their names come from it), see each other
// and exchange messages; carol types the name "mallory" with her own token
// and is refused when she tries to send; frank's bad token is refused on
// WebTransport.
import fs from 'node:fs';
import path from 'node:path';

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [base, aliceTok, bobTok, carolTok, danTok, erinTok, shotArg] = process.argv.slice(2);
if (!erinTok) { console.error('usage: BASE_URL ALICE_TOKEN BOB_TOKEN CAROL_TOKEN DAN_TOKEN ERIN_TOKEN [DIR]'); process.exit(2); }
const SHOTS = shotArg || path.join('target', 'browser');
const timer = setTimeout(() => { console.error('FAIL: global timeout'); process.exit(1); }, 60_000);
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const room = `auth-${Date.now().toString(36)}`;
async function join(name, token, transport, user = '') {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${base}/#token=${token}`);
  await page.fill('#user', user);
  await page.fill('#room', room);
  await page.selectOption('#transport', transport);
  await page.click('#join');
  return { name, page };
}
async function waitFor(p, what, fn, arg) {
  try { await p.page.waitForFunction(fn, arg, { timeout: 15_000 }); }
  catch (e) {
    await p.page.screenshot({ path: path.join(SHOTS, `auth-${p.name}.png`) });
    console.error(`FAIL: ${p.name}: ${what}`); process.exit(1);
  }
}
fs.mkdirSync(SHOTS, { recursive: true });
const users = (names) => {
  const have = [...document.querySelectorAll('#users li')].map((li) => li.textContent);
  return names.every((n) => have.some((h) => h.includes(n)));
};
const alice = await join('alice', aliceTok, 'ws');
const bob = await join('bob', bobTok, 'sse');
const dan = await join('dan', danTok, 'socketio');
const erin = await join('erin', erinTok, 'webtransport');
const all = ['alice', 'bob', 'dan', 'erin'];
await waitFor(alice, 'sees alice, bob, dan and erin (names from the tokens)', users, all);
await waitFor(bob, 'sees alice, bob, dan and erin', users, all);
await waitFor(dan, 'sees alice, bob, dan and erin', users, all);
await waitFor(erin, 'sees alice, bob, dan and erin', users, all);
await alice.page.fill('#text', 'hello from a token');
await alice.page.click('#send');
await waitFor(bob, 'gets alice\'s message', (t) =>
  [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes(t)), 'hello from a token');
await dan.page.fill('#text', 'dan over Socket.IO');
await dan.page.click('#send');
await waitFor(alice, 'gets dan\'s message', (t) =>
  [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes(t)), 'dan over Socket.IO');
await erin.page.fill('#text', 'erin over WebTransport');
await erin.page.click('#send');
await waitFor(bob, 'gets erin\'s message', (t) =>
  [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes(t)), 'erin over WebTransport');
const carol = await join('carol', carolTok, 'long-poll', 'mallory');
await carol.page.waitForTimeout(500);
await carol.page.fill('#text', 'I am mallory');
await carol.page.click('#send');
await waitFor(carol, 'is told her message was not sent (forbidden)', () =>
  [...document.querySelectorAll('#messages .notice')].some((n) => /Not sent: .*forbidden/.test(n.textContent)));
// A refused WebTransport session (bad token: closed with 4401) says so.
const frank = await join('frank', 'not-a-token', 'webtransport', 'frank');
await waitFor(frank, 'is told the WebTransport session was refused (bad token)', () =>
  [...document.querySelectorAll('#messages .notice')].some((n) => /Cannot subscribe: /.test(n.textContent)) &&
  document.body.dataset.state === 'error');
for (const p of [alice, bob, carol, dan, erin, frank]) await p.page.screenshot({ path: path.join(SHOTS, `auth-${p.name}.png`) });
console.log('ok: tokens on WebSocket, SSE, Socket.IO, WebTransport and long polling; impersonation and a bad token refused');
clearTimeout(timer);
await browser.close();
