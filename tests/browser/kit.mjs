// The chat page's browser tests share these: launching Debian's Chromium
// through playwright-core, opening pages, waiting on what a page shows, and
// the checks every transport must pass (XSS names and texts stay text; ids
// unique and increasing).

import fs from 'node:fs';

export const WAIT_MS = 15_000;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const XSS = '<img src=x onerror=alert(1)>';
export const XSS_TEXT = '<img src=x onerror=alert(2)> <b>not bold</b> & "quoted" <script>alert(3)</script>';

// The flags every headless Chromium of the tests starts with (as
// testkit::browser::CHROMIUM_FLAGS). Playwright adds a fresh temporary
// --user-data-dir and removes it on close.
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// playwright-core's chromium, or exit 1 saying what to install.
export async function loadChromium() {
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    console.error(`FAIL: cannot load playwright-core (${e.message}). Run scripts/test.sh (or \`npm ci\` at the repo root) to install it.`);
    process.exit(1);
  }
  if (!fs.existsSync(CHROMIUM)) {
    console.error(`FAIL: ${CHROMIUM} not found. Run scripts/test.sh (it installs Debian's chromium) or set CHROMIUM.`);
    process.exit(1);
  }
  return chromium;
}

// A page in its own browser context; its console errors, page errors and
// dialogs go to `problems` ({who, kind, text, at}).
export async function openPage(browser, who, url, problems, https = false) {
  // https: the test server's certificate is for a private CA (testdata/tls).
  const context = await browser.newContext({
    viewport: { width: 1100, height: 720 },
    ignoreHTTPSErrors: https,
  });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ who, kind: 'console', text: msg.text(), at: Date.now() });
  });
  page.on('pageerror', (err) => problems.push({ who, kind: 'pageerror', text: String(err), at: Date.now() }));
  page.on('dialog', async (d) => {
    problems.push({ who, kind: 'dialog', text: `${d.type()}: ${d.message()}`, at: Date.now() });
    await d.dismiss().catch(() => {});
  });
  if (url) await page.goto(url);
  return { who, context, page };
}

export function chatUrl(base, user, room, transport) {
  const q = new URLSearchParams({ user, room, transport });
  return `${base}/?${q}`;
}

export async function describe(p) {
  return p.page.evaluate(() => ({
    state: document.body.dataset.state,
    status: document.getElementById('status')?.textContent,
    users: [...document.querySelectorAll('#users li')].map((li) => li.textContent),
    typing: document.getElementById('typing')?.textContent,
    last: [...document.querySelectorAll('#messages > *')].slice(-8).map((m) =>
      `${m.dataset.kind}/${m.dataset.id ?? '-'}/${m.dataset.user ?? ''}: ${m.querySelector('.text')?.textContent ?? m.textContent}`),
  })).catch((e) => ({ error: String(e) }));
}

export async function waitFor(p, what, fn, arg, timeout = WAIT_MS) {
  try {
    await p.page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (e) {
    const seen = await describe(p);
    throw new Error(`${p.who}: timed out after ${timeout / 1000} s waiting for ${what}\n  page shows: ${JSON.stringify(seen, null, 2)}`);
  }
}

export const waitConnected = (p) => waitFor(p, 'data-state="connected"', () => document.body.dataset.state === 'connected');

export const waitUsers = (p, names) => waitFor(p, `user list containing ${JSON.stringify(names)}`, (names) => {
  const have = [...document.querySelectorAll('#users li')].map((li) => li.textContent);
  return names.every((n) => have.includes(n));
}, names);

export const waitMessage = (p, user, text) => waitFor(p, `message ${JSON.stringify(text)} from ${JSON.stringify(user)}`, ([user, text]) =>
  [...document.querySelectorAll('#messages .msg[data-kind="message"]')].some((m) =>
    m.dataset.user === user && m.querySelector('.text')?.textContent === text), [user, text]);

export const waitTyping = (p, user) => waitFor(p, `typing indicator for ${JSON.stringify(user)}`, (user) =>
  (document.getElementById('typing')?.textContent || '').includes(`${user} is typing`), user);

export async function send(p, text) {
  // Type it (input events -> typing notification), then press Enter.
  await p.page.locator('#text').pressSequentially(text.slice(0, 12), { delay: 5 });
  await p.page.locator('#text').fill(text);
  await p.page.locator('#send').click();
}

export async function messages(p) {
  return p.page.$$eval('#messages .msg', (els) => els.map((m) => ({
    kind: m.dataset.kind,
    user: m.dataset.user,
    id: m.dataset.id,
    own: m.classList.contains('own'),
    text: m.querySelector('.text')?.textContent ?? '',
    time: m.querySelector('time')?.textContent ?? '',
  })));
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}

export async function checkNoInjectedHtml(p) {
  const found = await p.page.evaluate(() => ({
    img: document.querySelectorAll('#messages img, #users img, #typing img, #whoami img').length,
    bold: document.querySelectorAll('#messages b').length,
    script: document.querySelectorAll('body script').length,
  }));
  check(found.img === 0, `${p.who}: an <img> element was created from user data`);
  check(found.bold === 0, `${p.who}: a <b> element was created from user data`);
  check(found.script === 1, `${p.who}: a <script> element was created from user data`);
}

// ids shown must be unique and strictly increasing (numerically; Redis ids "ms-seq").
export function checkOrder(who, list) {
  const key = (id) => String(id).split('-').map((x) => BigInt(x));
  const cmp = (a, b) => {
    const x = key(a), y = key(b);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      const d = (x[i] ?? 0n) - (y[i] ?? 0n);
      if (d !== 0n) return d < 0n ? -1 : 1;
    }
    return 0;
  };
  for (let i = 1; i < list.length; i++) {
    check(cmp(list[i - 1].id, list[i].id) < 0,
      `${who}: message ids not strictly increasing (duplicate or out of order): ${list[i - 1].id} then ${list[i].id}`);
  }
}
