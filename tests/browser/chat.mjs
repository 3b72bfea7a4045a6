#!/usr/bin/env node
// Browser test of the rtbench chat page (server/static/index.html) against a
// running server, in headless Debian Chromium driven by playwright-core.
//
//   node tests/browser/chat.mjs BASE_URL [SCREENSHOT_DIR]
//
// Five users in five isolated browser contexts, one per transport:
//   alice (WebSocket), an XSS-named user (SSE), carol (long polling, joins
//   later through the URL), dave (short polling, joins later through the
//   join form) and erin (Socket.IO, through the URL). It checks user lists, delivery both ways, typing indicators,
//   history on a late join, that hostile names and texts stay literal text,
//   and reconnect + resume without loss or duplicates on every transport: the
//   pages reach the server through a TCP proxy in this script that is cut for
//   a few seconds while a message is published directly to the server.
// Exit code 0 on success, 1 on any failure (with the reason on stderr); the
// whole run is bounded by a global timeout. Screenshots of every page go to
// SCREENSHOT_DIR (default target/browser).
//
// With an https:// BASE_URL the same checks run over TLS (wss, SSE and
// polling on HTTP/2); node trusts the test CA through NODE_EXTRA_CA_CERTS.
//
// Chromium: /usr/bin/chromium (Debian package `chromium`), or $CHROMIUM.
// Never `npx playwright install`: no browser download is needed or possible.

import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import * as kit from './kit.mjs';
import {
  CHROMIUM, CHROMIUM_ARGS, XSS, XSS_TEXT, chatUrl, check, checkNoInjectedHtml, checkOrder,
  messages, send, waitConnected, waitFor, waitMessage, waitTyping, waitUsers,
} from './kit.mjs';

const GLOBAL_TIMEOUT_MS = 60_000;
const OUTAGE_MS = 3_000;

const [baseArg, shotArg] = process.argv.slice(2);
if (!baseArg) {
  console.error('usage: node tests/browser/chat.mjs BASE_URL [SCREENSHOT_DIR]');
  process.exit(2);
}
const BASE = new URL(baseArg);
const SHOTS = shotArg || path.join('target', 'browser');

function log(line) { console.log(line); }

const globalTimer = setTimeout(() => {
  console.error(`FAIL: global timeout of ${GLOBAL_TIMEOUT_MS / 1000} s exceeded (last step: ${step})`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

let step = 'start';
function begin(name) { step = name; log(`# ${name}`); }

const chromium = await kit.loadChromium();

// ---- a cuttable TCP proxy in front of the server --------------------------------
async function startProxy(target) {
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname;
  const open = new Set();
  let down = false;
  const server = net.createServer((client) => {
    if (down) { client.resetAndDestroy ? client.resetAndDestroy() : client.destroy(); return; }
    const upstream = net.connect(port, host);
    open.add(client);
    open.add(upstream);
    const done = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  return {
    url: `${target.protocol}//127.0.0.1:${server.address().port}`,
    cut() {
      down = true;
      for (const s of open) s.resetAndDestroy ? s.resetAndDestroy() : s.destroy();
      open.clear();
    },
    restore() { down = false; },
    close() { this.cut(); server.close(); },
  };
}

// ---- page helpers ------------------------------------------------------------------
const problems = [];      // console errors, page errors, dialogs: {who, kind, text, at}
let outage = null;        // {from, to}: network errors inside it are expected

const openPage = (browser, who, url) => kit.openPage(browser, who, url, problems, BASE.protocol === 'https:');

async function publishDirect(room, user, text) {
  const resp = await fetch(new URL(`api/rooms/${room}/messages`, BASE), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, text }),
  });
  const raw = await resp.text();
  check(resp.status === 201, `POST /api/rooms/${room}/messages answered ${resp.status}, expected 201: ${raw}`);
  let body = null;
  try { body = JSON.parse(raw); } catch (_) { /* checked below */ }
  check(body && typeof body.id === 'string' && Number.isFinite(body.ts_us), `publish answer lacks id/ts_us: ${raw}`);
  return body;
}

// ---- the scenario ------------------------------------------------------------------
let browser;
let proxy;
const pages = [];

async function screenshots() {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const p of pages) {
    const file = path.join(SHOTS, `${p.who}.png`);
    await p.page.screenshot({ path: file }).catch(() => {});
  }
  log(`# screenshots in ${SHOTS}`);
}

async function main() {
  begin(`server ${BASE.origin}`);
  const home = await fetch(new URL('/', BASE));
  check(home.ok, `GET / answered ${home.status}`);
  check((home.headers.get('content-type') || '').startsWith('text/html'), `GET / content-type is ${home.headers.get('content-type')}`);

  proxy = await startProxy(BASE);
  const base = proxy.url;
  const room = `browser-${Date.now().toString(36)}`;

  begin(`launch ${CHROMIUM}`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives the browser a fresh temporary --user-data-dir and
    // removes it on close; every context below is isolated on top of that.
    args: [...CHROMIUM_ARGS, '--disable-quic'],
  });

  begin('round 1: alice on WebSocket, XSS user on SSE');
  const alice = await openPage(browser, 'alice-ws', chatUrl(base, 'alice', room, 'ws'));
  pages.push(alice);
  await waitConnected(alice);
  await waitUsers(alice, ['alice']);
  const hello = 'Hello from alice over WebSocket';
  await send(alice, hello);
  await waitMessage(alice, 'alice', hello);

  const xss = await openPage(browser, 'xss-sse', chatUrl(base, XSS, room, 'sse'));
  pages.push(xss);
  await waitConnected(xss);
  await waitUsers(xss, ['alice', XSS]);
  await waitUsers(alice, ['alice', XSS]);
  log('ok - both see each other in the user list');
  await waitMessage(xss, 'alice', hello);
  log('ok - history on join (SSE page sees the message sent before it joined)');

  await waitFor(alice, 'a system (join) line about the XSS user', (name) =>
    [...document.querySelectorAll('#messages .msg[data-kind="system"]')].some((m) =>
      m.dataset.user === name || (m.querySelector('.text')?.textContent || '').includes(name)), XSS);
  log('ok - join shown as a system line, hostile name as literal text');

  // Typing: alice types, the SSE page shows it; the SSE page types, alice sees it.
  await alice.page.locator('#text').pressSequentially('typing…', { delay: 20 });
  await waitTyping(xss, 'alice');
  await xss.page.locator('#text').pressSequentially('hmm', { delay: 20 });
  await waitTyping(alice, XSS);
  log('ok - typing indicators both ways (WebSocket frame, HTTP POST)');
  await alice.page.locator('#text').fill('');

  const reply = XSS_TEXT;
  await send(xss, reply);
  await waitMessage(alice, XSS, reply);
  await waitMessage(xss, XSS, reply);
  const hello2 = 'Second message from alice';
  await send(alice, hello2);
  await waitMessage(xss, 'alice', hello2);
  log('ok - messages delivered both ways (WebSocket <-> SSE)');
  await waitFor(alice, 'typing indicator cleared after the message', (n) =>
    !(document.getElementById('typing')?.textContent || '').includes(n), XSS, 5000);

  for (const p of [alice, xss]) await checkNoInjectedHtml(p);
  {
    const list = await messages(alice);
    const mine = list.find((m) => m.kind === 'message' && m.text === hello);
    const theirs = list.find((m) => m.kind === 'message' && m.user === XSS);
    check(mine && mine.own, 'alice-ws: own message is not marked .own');
    check(theirs && !theirs.own, 'alice-ws: other user\'s message is marked .own');
    check(theirs.text.includes('<img') && theirs.text === XSS_TEXT, `alice-ws: XSS text not shown literally: ${JSON.stringify(theirs.text)}`);
    check(/\d/.test(mine.time), `alice-ws: no time shown on a message (got ${JSON.stringify(mine.time)})`);
    const [ownAlign, otherAlign] = await alice.page.$$eval('#messages .msg[data-kind="message"]', (els) => {
      const own = els.find((e) => e.classList.contains('own'));
      const other = els.find((e) => !e.classList.contains('own'));
      return [getComputedStyle(own).alignSelf, getComputedStyle(other).alignSelf];
    });
    check(ownAlign !== otherAlign, `alice-ws: own and other messages are laid out alike (${ownAlign})`);
    const li = await alice.page.$$eval('#users li', (lis) => lis.map((x) => x.textContent));
    check(li.includes(XSS), 'alice-ws: XSS user name not literal in the user list');
  }
  log('ok - XSS name and text are literal text; no element created; own messages styled apart');

  begin('round 2: carol on long polling (URL), dave on short polling (join form), erin on Socket.IO');
  const carol = await openPage(browser, 'carol-long-poll', chatUrl(base, 'carol', room, 'long-poll'));
  pages.push(carol);
  const erin = await openPage(browser, 'erin-socketio', chatUrl(base, 'erin', room, 'socketio'));
  pages.push(erin);
  const dave = await openPage(browser, 'dave-short-poll', `${base}/`);
  pages.push(dave);
  await dave.page.locator('#user').fill('dave');
  await dave.page.locator('#room').fill(room);
  await dave.page.locator('#transport').selectOption('short-poll');
  await dave.page.locator('#join').click();

  await waitConnected(carol);
  await waitConnected(dave);
  await waitConnected(erin);
  for (const p of [carol, dave, erin]) {
    await waitMessage(p, 'alice', hello);
    await waitMessage(p, XSS, reply);
    await waitMessage(p, 'alice', hello2);
  }
  log('ok - history on join for long-poll, short-poll and Socket.IO pages');

  const everyone = ['alice', XSS, 'carol', 'dave', 'erin'];
  for (const p of pages) await waitUsers(p, everyone);
  log('ok - all five users in every user list');

  const fromCarol = 'carol here, over long polling';
  await send(carol, fromCarol);
  for (const p of pages) await waitMessage(p, 'carol', fromCarol);
  await dave.page.locator('#text').pressSequentially('dave types', { delay: 20 });
  await waitTyping(alice, 'dave');
  await waitTyping(carol, 'dave');
  const fromDave = 'dave here, over short polling';
  await send(dave, fromDave);
  for (const p of pages) await waitMessage(p, 'dave', fromDave);
  log('ok - long-poll and short-poll pages send and receive; typing over HTTP');
  await erin.page.locator('#text').pressSequentially('erin types', { delay: 20 });
  await waitTyping(alice, 'erin');
  const fromErin = 'erin here, over Socket.IO';
  await send(erin, fromErin);
  for (const p of pages) await waitMessage(p, 'erin', fromErin);
  log('ok - the Socket.IO page sends and receives; typing as a Socket.IO event');

  begin(`reconnect: network cut for ${OUTAGE_MS / 1000} s on every page`);
  outage = { from: Date.now(), to: Infinity };
  proxy.cut();
  const during = 'published while everyone was offline';
  await publishDirect(room, 'server-bot', during);
  for (const p of pages) {
    await waitFor(p, 'data-state="reconnecting" during the outage', () =>
      document.body.dataset.state === 'reconnecting', undefined, OUTAGE_MS + 2000);
  }
  const left = OUTAGE_MS - (Date.now() - outage.from);
  if (left > 0) await new Promise((r) => setTimeout(r, left));
  proxy.restore();
  outage.to = Date.now();
  for (const p of pages) await waitConnected(p);
  for (const p of pages) await waitMessage(p, 'server-bot', during);
  const after = 'alice again, after the outage';
  await send(alice, after);
  for (const p of pages) await waitMessage(p, 'alice', after);
  log('ok - every transport reconnected and resumed (message published during the outage arrived)');

  // Nothing lost, nothing shown twice, all in order: compare every page's
  // chat messages with the expected sequence.
  const expected = [hello, reply, hello2, fromCarol, fromDave, fromErin, during, after];
  for (const p of pages) {
    const list = (await messages(p)).filter((m) => m.kind === 'message');
    checkOrder(p.who, await messages(p));
    const texts = list.map((m) => m.text);
    check(JSON.stringify(texts) === JSON.stringify(expected),
      `${p.who}: chat messages differ from what was sent (loss, duplicate or reorder):\n  got      ${JSON.stringify(texts)}\n  expected ${JSON.stringify(expected)}`);
    await checkNoInjectedHtml(p);
  }
  log('ok - no loss, no duplicates, in order on every page');

  begin('console errors, page errors, dialogs');
  // During the outage the browser itself logs failed requests and WebSocket
  // connects as console errors; those are expected. Nothing else is.
  const network = /Failed to load resource|net::ERR_|WebSocket connection to .* failed|ERR_CONNECTION|ERR_EMPTY_RESPONSE/;
  const unexpected = problems.filter((x) =>
    !(x.kind === 'console' && network.test(x.text) && outage && x.at >= outage.from && x.at <= outage.to + 3000));
  check(unexpected.length === 0,
    `unexpected console errors / page errors / dialogs:\n${unexpected.map((x) => `  [${x.who}] ${x.kind}: ${x.text}`).join('\n')}`);
  log(`ok - no console errors, page errors or dialogs (${problems.length} expected network errors during the outage)`);

  if (BASE.protocol === 'https:') {
    begin('TLS: the browser chose HTTP/2 for SSE and polling');
    const metrics = await (await fetch(new URL('/metrics', BASE))).text();
    const h2 = Number((metrics.match(/^rtbench_server_http2_connections_total (\d+)/m) || [])[1] || 0);
    check(h2 > 0, `no HTTP/2 connection in /metrics (rtbench_server_http2_connections_total ${h2})`);
    log(`ok - ${h2} HTTP/2 connections; WebSockets (wss) on HTTP/1.1`);
  }

  await screenshots();
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`FAIL (${step}): ${e && e.message ? e.message : e}`);
  if (problems.length) {
    console.error(`console/page errors so far:\n${problems.map((x) => `  [${x.who}] ${x.kind}: ${x.text}`).join('\n')}`);
  }
  await screenshots().catch(() => {});
} finally {
  for (const p of pages) await p.context.close().catch(() => {});
  if (browser) await browser.close().catch(() => {});
  if (proxy) proxy.close();
  clearTimeout(globalTimer);
}
log(failed ? 'browser test FAILED' : 'browser test passed');
process.exit(failed ? 1 : 0);
