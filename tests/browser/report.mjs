#!/usr/bin/env node
// Browser check of `rtbench report` output: opens each REPORT_DIR/index.html
// from file:// in headless Debian Chromium (playwright-core) and checks that
// it is self-contained and complete:
//   - no console errors, page errors or dialogs;
//   - no request other than the page itself and data: URIs (no CDN, no font,
//     no sibling file needed to display it);
//   - every chart image decoded (naturalWidth > 0) and visible: laid out at a
//     readable width and scrolled into the viewport without being hidden;
//   - the sections (findings, headline table, charts, methodology) exist;
//   - on a phone-sized viewport the page does not scroll sideways (the
//     headline table scrolls inside its own box).
// Full-page screenshots (desktop and phone) go to SHOT_DIR.
//
//   node tests/browser/report.mjs SHOT_DIR REPORT_DIR...
//
// Exit code 0 on success, 1 on any failure (reason on stderr).
// Chromium: /usr/bin/chromium (Debian package `chromium`), or $CHROMIUM.

import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const GLOBAL_TIMEOUT_MS = 60_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const [shotArg, ...dirs] = process.argv.slice(2);
if (!shotArg || dirs.length === 0) {
  console.error('usage: node tests/browser/report.mjs SHOT_DIR REPORT_DIR...');
  process.exit(2);
}

const timer = setTimeout(() => {
  console.error(`FAIL: global timeout of ${GLOBAL_TIMEOUT_MS / 1000} s exceeded`);
  process.exit(1);
}, GLOBAL_TIMEOUT_MS);

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`FAIL: cannot load playwright-core (${e.message}). Run \`npm ci\` at the repo root.`);
  process.exit(1);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAIL: ${CHROMIUM} not found (Debian package chromium) or set CHROMIUM.`);
  process.exit(1);
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

async function checkReport(browser, dir) {
  const index = path.resolve(dir, 'index.html');
  check(fs.existsSync(index), `${index} does not exist`);
  const url = pathToFileURL(index).href;
  const name = path.basename(path.resolve(dir));
  const problems = [];
  const requests = [];

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e}`));
  page.on('dialog', async (d) => { problems.push(`dialog: ${d.message()}`); await d.dismiss().catch(() => {}); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`));
  page.on('request', (r) => requests.push(r.url()));

  await page.goto(url, { waitUntil: 'load' });

  const foreign = requests.filter((u) => u !== url && !u.startsWith('data:'));
  check(foreign.length === 0, `${name}: the page requested more than itself: ${foreign.join(', ')}`);

  const info = await page.evaluate(() => ({
    title: document.title,
    sections: [...document.querySelectorAll('section')].map((s) => s.id),
    h3: [...document.querySelectorAll('h3')].map((h) => h.textContent),
    rows: document.querySelectorAll('table.headline tbody tr[data-metric]').length,
    best: document.querySelectorAll('table.headline td.best').length,
    findings: document.querySelectorAll('ul.findings li').length,
    figures: document.querySelectorAll('figure.chart').length,
  }));
  check(info.title.length > 0, `${name}: no <title>`);
  check(info.sections.includes('methodology'), `${name}: no methodology section`);
  for (const h of ['Findings', 'Headline numbers', 'Charts']) {
    check(info.h3.includes(h), `${name}: no "${h}" heading (have ${JSON.stringify(info.h3)})`);
  }
  check(info.rows >= 10, `${name}: headline table has ${info.rows} metric rows`);
  check(info.best > 0, `${name}: no best value highlighted`);
  check(info.findings > 0, `${name}: no findings`);
  check(info.figures >= 5, `${name}: only ${info.figures} charts`);

  // Every chart: decoded, laid out wide enough to read, and visible when scrolled to.
  const figures = await page.locator('figure.chart').all();
  for (const fig of figures) {
    const id = await fig.getAttribute('id');
    const img = fig.locator('img');
    await img.scrollIntoViewIfNeeded();
    const state = await img.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      const top = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(r.height / 2, window.innerHeight / 2 - 1));
      return {
        complete: el.complete, natural: el.naturalWidth, naturalH: el.naturalHeight,
        w: r.width, h: r.height, visible: cs.visibility !== 'hidden' && cs.display !== 'none' && Number(cs.opacity) > 0,
        onTop: top === el,
      };
    });
    check(state.complete && state.natural > 0, `${name}: chart ${id} did not decode`);
    check(state.natural === 1400 && state.naturalH === 788, `${name}: chart ${id} is ${state.natural}x${state.naturalH}`);
    check(state.visible && state.w >= 600 && state.h >= 300, `${name}: chart ${id} not visible at a readable size (${state.w}x${state.h})`);
    check(state.onTop, `${name}: chart ${id} is covered by another element`);
    await img.evaluate((el) => el.decode());
  }

  fs.mkdirSync(shotArg, { recursive: true });
  await page.screenshot({ path: path.join(shotArg, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(shotArg, `${name}-top.png`) });

  // Phone width: the page itself must not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `${name}: at 390 px wide the page scrolls sideways by ${overflow} px`);
  await page.screenshot({ path: path.join(shotArg, `${name}-phone.png`) });

  check(problems.length === 0, `${name}: ${problems.join('\n  ')}`);
  await context.close();
  console.log(`ok - ${name}: ${info.figures} charts visible, ${info.rows} metric rows, ${info.findings} findings, no console errors, no external request`);
}

let browser;
let failed = false;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--allow-file-access-from-files'],
  });
  for (const dir of dirs) await checkReport(browser, dir);
  console.log(`# screenshots in ${shotArg}`);
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e && e.message ? e.message : e}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  clearTimeout(timer);
}
process.exit(failed ? 1 : 0);
