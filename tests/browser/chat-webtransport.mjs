#!/usr/bin/env node
// The chat page's WebTransport option in headless Chromium, against a
// running server with its self-signed certificate:
//
//   node tests/browser/chat-webtransport.mjs BASE_URL [SCREENSHOT_DIR]
//
// alice on WebSocket and a user with a hostile name on WebTransport chat
// with each other: user lists, history on join, typing both ways, messages
// both ways, hostile names and texts as literal text. The WebTransport page
// pins the server's certificate by the hash /api/webtransport gives (no
// flag makes Chromium trust it otherwise), and reaches the server through a
// UDP relay in this script, which is cut until the session ends (QUIC's
// idle timeout: the server runs with a short --heartbeat); a message
// published meanwhile arrives after the page resumes with `since`.
// Exit code 0 on success, 1 on failure (the reason on stderr).

import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import * as kit from './kit.mjs';
import {
  CHROMIUM, CHROMIUM_ARGS, XSS, XSS_TEXT, chatUrl, check, checkNoInjectedHtml, checkOrder,
  messages, send, waitConnected, waitFor, waitMessage, waitTyping, waitUsers,
} from './kit.mjs';

const GLOBAL_TIMEOUT_MS = 90_000;
const [baseArg, shotArg] = process.argv.slice(2);
if (!baseArg) {
  console.error('usage: node tests/browser/chat-webtransport.mjs BASE_URL [SCREENSHOT_DIR]');
  process.exit(2);
}
const BASE = new URL(baseArg);
const SHOTS = shotArg || path.join('target', 'browser', 'webtransport');
let step = 'start';
const log = (line) => console.log(line);
function begin(name) { step = name; log(`# ${name}`); }
const globalTimer = setTimeout(() => {
  console.error(`FAIL: global timeout of ${GLOBAL_TIMEOUT_MS / 1000} s exceeded (last step: ${step})`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

// ---- a cuttable UDP relay in front of the server's QUIC port ---------------------
// One upstream socket per client address, so the server sees one peer per
// page; while cut, every datagram either way is dropped.
async function startRelay(target) {
  const front = dgram.createSocket('udp4');
  const peers = new Map();
  let down = false;
  front.on('message', (msg, from) => {
    if (down) return;
    const key = `${from.address}:${from.port}`;
    let up = peers.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.on('message', (back) => { if (!down) front.send(back, from.port, from.address); });
      up.on('error', () => {});
      peers.set(key, up);
    }
    up.send(msg, Number(target.port), target.hostname);
  });
  front.on('error', () => {});
  await new Promise((resolve) => front.bind(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${front.address().port}`,
    cut() { down = true; },
    restore() { down = false; },
    close() {
      for (const up of peers.values()) up.close();
      front.close();
    },
  };
}

async function publishDirect(room, user, text) {
  const resp = await fetch(new URL(`api/rooms/${room}/messages`, BASE), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, text }),
  });
  check(resp.status === 201, `POST /api/rooms/${room}/messages answered ${resp.status}`);
}

async function metric(name) {
  const text = await (await fetch(new URL('/metrics', BASE))).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return Number(line ? line.slice(name.length + 1) : NaN);
}

const problems = [];
let outage = null;
let browser;
let relay;
const pages = [];

async function screenshots() {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const p of pages) await p.page.screenshot({ path: path.join(SHOTS, `${p.who}.png`) }).catch(() => {});
  log(`# screenshots in ${SHOTS}`);
}

async function main() {
  begin(`server ${BASE.origin}: /api/webtransport`);
  const info = await (await fetch(new URL('/api/webtransport', BASE))).json();
  check(typeof info.url === 'string' && info.url.startsWith('https://127.0.0.1:'), `url: ${JSON.stringify(info)}`);
  check(/^[0-9a-f]{64}$/i.test(info.cert_hash || ''), `cert_hash: ${JSON.stringify(info)}`);
  check(info.self_signed === true, `self_signed: ${JSON.stringify(info)}`);
  relay = await startRelay(new URL(info.url));

  const room = `wt-${Date.now().toString(36)}`;
  begin(`launch ${CHROMIUM} (QUIC on)`);
  const chromium = await kit.loadChromium();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });

  begin('alice on WebSocket, then the XSS user on WebTransport');
  const alice = await kit.openPage(browser, 'alice-ws', chatUrl(BASE.origin, 'alice', room, 'ws'), problems);
  pages.push(alice);
  await waitConnected(alice);
  const hello = 'Hello from alice over WebSocket';
  await send(alice, hello);
  await waitMessage(alice, 'alice', hello);

  const wt = await kit.openPage(browser, 'xss-webtransport', null, problems);
  pages.push(wt);
  // Publishes and typing go on the session: an HTTP POST would be the fallback.
  const posts = [];
  wt.page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });

  // The page is told the relay's address; the certificate's hash is the server's.
  await wt.page.route('**/api/webtransport', async (route) => {
    const resp = await route.fetch();
    const body = await resp.json();
    await route.fulfill({ response: resp, json: Object.assign(body, { url: relay.url }) });
  });
  await wt.page.goto(chatUrl(BASE.origin, XSS, room, 'webtransport'));
  await waitConnected(wt);
  await waitUsers(wt, ['alice', XSS]);
  await waitUsers(alice, ['alice', XSS]);
  await waitMessage(wt, 'alice', hello);
  log('ok - WebTransport connected with the pinned certificate; user lists; history on join');

  await alice.page.locator('#text').pressSequentially('typing…', { delay: 20 });
  await waitTyping(wt, 'alice');
  await wt.page.locator('#text').pressSequentially('hmm', { delay: 20 });
  await waitTyping(alice, XSS);
  await alice.page.locator('#text').fill('');
  log('ok - typing both ways (a WebSocket frame, a request line on WebTransport)');

  await send(wt, XSS_TEXT);
  await waitMessage(alice, XSS, XSS_TEXT);
  await waitMessage(wt, XSS, XSS_TEXT);
  const hello2 = 'Second message from alice';
  await send(alice, hello2);
  await waitMessage(wt, 'alice', hello2);
  log('ok - messages both ways (WebSocket <-> WebTransport)');
  for (const p of pages) await checkNoInjectedHtml(p);
  const mine = (await messages(wt)).find((m) => m.kind === 'message' && m.user === XSS);
  check(mine && mine.own && mine.text === XSS_TEXT, `xss-webtransport: own hostile text not literal or not own: ${JSON.stringify(mine)}`);
  check(!(await wt.page.$$eval('#messages .notice', (n) => n.map((x) => x.textContent).join(' '))).includes('Not sent'),
    'xss-webtransport: a publish was refused');
  const sessions = await metric('rtbench_server_webtransport_sessions');
  check(sessions >= 1, `rtbench_server_webtransport_sessions is ${sessions}: the page did not use WebTransport`);
  check(posts.length === 0, `xss-webtransport: published or typed over HTTP, not WebTransport: ${posts.join(', ')}`);
  log('ok - hostile name and text are literal text; published over WebTransport');

  begin('resume: the relay is cut until the session ends');
  outage = { from: Date.now(), to: Infinity };
  relay.cut();
  await waitFor(wt, 'data-state="reconnecting" after QUIC\'s idle timeout', () =>
    document.body.dataset.state === 'reconnecting', undefined, 30_000);
  const during = 'published while WebTransport was cut off';
  await publishDirect(room, 'server-bot', during);
  relay.restore();
  await waitConnected(wt);
  outage.to = Date.now();
  await waitMessage(wt, 'server-bot', during);
  const after = 'alice again, after the outage';
  await send(alice, after);
  await waitMessage(wt, 'alice', after);
  const expected = [hello, XSS_TEXT, hello2, during, after];
  for (const p of pages) {
    const list = await messages(p);
    checkOrder(p.who, list);
    const texts = list.filter((m) => m.kind === 'message').map((m) => m.text);
    check(JSON.stringify(texts) === JSON.stringify(expected),
      `${p.who}: chat messages differ from what was sent:\n  got      ${JSON.stringify(texts)}\n  expected ${JSON.stringify(expected)}`);
  }
  log('ok - WebTransport resumed with since: nothing lost, nothing twice, in order');

  begin('console errors, page errors, dialogs');
  const network = /WebTransport|net::ERR_|Failed to load resource/;
  const unexpected = problems.filter((x) =>
    !(x.kind === 'console' && network.test(x.text) && outage && x.at >= outage.from && x.at <= outage.to + 3000));
  check(unexpected.length === 0,
    `unexpected console errors / page errors / dialogs:\n${unexpected.map((x) => `  [${x.who}] ${x.kind}: ${x.text}`).join('\n')}`);
  log(`ok - no console errors, page errors or dialogs (${problems.length} expected during the outage)`);
  await screenshots();
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`FAIL (${step}): ${e && e.message ? e.message : e}`);
  if (problems.length) console.error(`console/page errors:\n${problems.map((x) => `  [${x.who}] ${x.kind}: ${x.text}`).join('\n')}`);
  await screenshots().catch(() => {});
} finally {
  for (const p of pages) await p.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (relay) relay.close();
  clearTimeout(globalTimer);
}
log(failed ? 'browser test FAILED' : 'browser test passed');
process.exit(failed ? 1 : 0);
