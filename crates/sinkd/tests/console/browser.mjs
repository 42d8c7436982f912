// Drives the sinkd web console in headless Chromium (playwright-core with
// the system's /usr/bin/chromium), for crates/sinkd/tests/it/console.rs.
//
//   node browser.mjs test URL UDP_PORT        the acceptance checks
//   node browser.mjs screenshots URL DIR      devices.png and device.png
//   node browser.mjs perf URL                 the devices page's load time
//   node browser.mjs token URL TOKEN          the token dialog of a server
//                                             with [http] token_file
//
// URL is the sinkd under test's http address (http://127.0.0.1:PORT). Every
// request the pages make is recorded; one to any other origin fails the run.
// Prints one JSON object on success; exits 1 with the reason otherwise.

import { chromium } from 'playwright-core';
import dgram from 'node:dgram';

const [mode, url, extra] = process.argv.slice(2);
const origin = new URL(url).origin;
const LIVE_DEVICE = 'core-sw1';

function fail(message) {
  throw new Error(message);
}

function expect(condition, message) {
  if (!condition) fail(message);
}

// One RFC 5424 message over UDP to the sinkd under test.
function sendUdp(port, text) {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    socket.send(Buffer.from(text), port, '127.0.0.1', (error) => {
      socket.close();
      if (error) reject(error); else resolve();
    });
  });
}

function rfc5424(pri, device, app, text) {
  return `<${pri}>1 ${new Date().toISOString()} ${device} ${app} - - - ${text}`;
}

async function withBrowser(work, allowed = () => false) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, timezoneId: 'Europe/Stockholm' });
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  const requests = [];
  const problems = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  try {
    const result = await work(page);
    const foreign = requests.filter((address) => new URL(address).origin !== origin);
    expect(foreign.length === 0, `requests left the server: ${foreign.join(', ')}`);
    // The 400s the bad priority provokes are expected (Chromium also logs
    // them on the console); no other request may fail.
    const unexpected = problems.filter((p) => !p.includes('400 (Bad Request)') && !/^400 .*priority=auth.bogus/.test(p) && !allowed(p));
    expect(unexpected.length === 0, unexpected.join('\n'));
    return { ...result, requests: requests.length, origins: [...new Set(requests.map((a) => new URL(a).origin))] };
  } finally {
    await browser.close();
  }
}

async function rowNames(page) {
  return page.$$eval('#viewport tbody tr[data-name]', (rows) => rows.map((row) => row.dataset.name));
}

async function messageTexts(page) {
  return page.$$eval('#messages tr td.msg', (cells) => cells.map((cell) => cell.textContent));
}

async function test(page, udpPort) {
  const report = {};
  // The devices page lists the devices sent to this sinkd.
  await page.goto(`${url}/`);
  await page.waitForSelector('#viewport tbody tr[data-name]');
  const names = await rowNames(page);
  for (const device of ['core-sw1', 'edge-fw2', 'access-17']) {
    expect(names.includes(device), `devices page lacks ${device}: ${names}`);
  }
  report.devices = names;
  // `/` focuses the filter, which narrows the list.
  await page.locator('body').press('/');
  expect(await page.evaluate(() => document.activeElement?.id) === 'filter', '/ did not focus the filter');
  await page.keyboard.type('edge');
  await page.waitForFunction(() => document.querySelectorAll('#viewport tbody tr[data-name]').length === 1);
  expect((await rowNames(page))[0] === 'edge-fw2', 'the filter kept the wrong row');
  // Tab reaches the row's link; Enter opens the device.
  await page.locator('#viewport tbody tr[data-name] a').first().focus();
  await Promise.all([page.waitForURL(/\/devices\/edge-fw2$/), page.keyboard.press('Enter')]);
  await page.waitForSelector('#messages tr');
  report.keyboard = 'ok';

  // A device page shows its messages.
  await page.goto(`${url}/devices/${LIVE_DEVICE}`);
  await page.waitForFunction(() => document.querySelectorAll('#messages tr').length >= 12);
  const texts = await messageTexts(page);
  expect(texts.some((t) => t.includes('link down on port 7')), `the device page lacks its messages: ${texts}`);
  await page.waitForSelector('#chart svg rect');
  report.shown = texts.length;

  // A message sent after the page opened appears within 2 s.
  const marker = `live marker ${Date.now()}`;
  const sent = Date.now();
  await sendUdp(udpPort, rfc5424(11, LIVE_DEVICE, 'ifmgr', marker));
  await page.waitForFunction((m) => [...document.querySelectorAll('#messages td.msg')].some((c) => c.textContent === m), marker, { timeout: 10000 });
  report.live_ms = Date.now() - sent;
  expect(report.live_ms < 2000, `the live message took ${report.live_ms} ms`);

  // Pause keeps the rows; resume goes on after the last one, nothing twice.
  await page.click('#pause');
  const before = (await messageTexts(page)).length;
  const whilePaused = `while paused ${Date.now()}`;
  await sendUdp(udpPort, rfc5424(13, LIVE_DEVICE, 'ifmgr', whilePaused));
  await page.waitForTimeout(1500);
  expect((await messageTexts(page)).length === before, 'rows changed while paused');
  await page.click('#pause');
  await page.waitForFunction((m) => [...document.querySelectorAll('#messages td.msg')].some((c) => c.textContent === m), whilePaused, { timeout: 10000 });
  const after = await messageTexts(page);
  expect(after.filter((t) => t === marker || t === whilePaused).length === 2, 'a message was shown twice after resuming');
  expect(after.length === before + 1, `resume showed ${after.length - before} messages, not 1`);

  // A search narrows the list.
  await page.fill('#grep', 'link (up|down)');
  await page.click('form.search button[type=submit]');
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('#messages td.msg')];
    return cells.length > 0 && cells.every((c) => /link (up|down)/.test(c.textContent));
  });
  report.narrowed = (await messageTexts(page)).length;
  expect(report.narrowed < after.length, 'the search did not narrow the list');

  // A bad priority expression shows the API's error next to the field.
  await page.fill('#grep', '');
  await page.fill('#priority', 'auth.bogus');
  await page.click('form.search button[type=submit]');
  await page.waitForFunction(() => document.getElementById('priority-error').textContent.length > 0);
  report.priority_error = await page.textContent('#priority-error');
  expect(report.priority_error.includes('bogus'), `the error does not name the expression: ${report.priority_error}`);
  expect(await page.getAttribute('#priority', 'aria-invalid') === 'true', 'the field is not marked invalid');
  return report;
}

async function screenshots(page, dir) {
  await page.goto(`${url}/`);
  await page.waitForSelector('#viewport tbody tr[data-name]');
  // Sizes come with the store's next listing (made every 5 s at most).
  await page.waitForFunction(() => [...document.querySelectorAll('#viewport tbody tr[data-name] td:nth-child(5)')]
    .every((cell) => cell.textContent !== '0 B'), null, { timeout: 30000 });
  await page.screenshot({ path: `${dir}/devices.png` });
  await page.goto(`${url}/devices/${LIVE_DEVICE}`);
  await page.waitForFunction(() => document.querySelectorAll('#messages tr').length >= 10);
  await page.waitForSelector('#chart svg rect');
  await page.waitForTimeout(300);
  await page.screenshot({ path: `${dir}/device.png`, fullPage: true });
  return { written: [`${dir}/devices.png`, `${dir}/device.png`] };
}

// Navigation start to the first rows drawn, then a keystroke in the filter
// to the list redrawn for it.
async function perf(page) {
  await page.goto(`${url}/`);
  await page.waitForFunction(() => document.body.dataset.ready === 'devices', null, { timeout: 60000 });
  const drawn = await page.evaluate(() => performance.getEntriesByName('sinkd-rows-drawn')[0].startTime);
  const total = await page.evaluate(() => document.querySelector('#summary').textContent);
  // Of which: the stats request, from its start to its last byte.
  const api = await page.evaluate(() => {
    const entry = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/stats/devices'));
    return { start: entry.startTime, end: entry.responseEnd, bytes: entry.encodedBodySize };
  });
  await page.focus('#filter');
  const filtered = await page.evaluate(() => new Promise((resolve) => {
    const input = document.getElementById('filter');
    const start = performance.now();
    input.value = '4242';
    input.dispatchEvent(new Event('input'));
    requestAnimationFrame(() => resolve(performance.now() - start));
  }));
  const rows = await rowNames(page);
  expect(rows.length > 0 && rows.every((name) => name.includes('4242')), `the filter shows ${rows}`);
  return {
    rows_drawn_ms: Math.round(drawn),
    stats_request_ms: Math.round(api.end - api.start),
    stats_bytes: api.bytes,
    after_stats_ms: Math.round(drawn - api.end),
    filter_ms: Math.round(filtered),
    summary: total,
  };
}

// A server that wants a token: the page asks for it, says so when a wrong
// one is given, and with the right one shows the devices and a device's
// live tail (read with the token too).
async function token(page, secret) {
  await page.goto(`${url}/`);
  await page.waitForSelector('#login[open]');
  await page.fill('#login-token', 'not-the-token');
  await page.press('#login-token', 'Enter');
  await page.waitForFunction(() => document.getElementById('login-error').textContent.includes('refused'));
  await page.fill('#login-token', secret);
  await page.press('#login-token', 'Enter');
  await page.waitForSelector('#viewport tbody tr[data-name]');
  const names = await rowNames(page);
  expect(names.includes(LIVE_DEVICE), `devices behind the token: ${names}`);
  await page.goto(`${url}/devices/${LIVE_DEVICE}`);
  await page.waitForSelector('#messages tr');
  const stored = await page.evaluate(() => sessionStorage.getItem('sinkd-token'));
  expect(stored === secret, 'the token was not kept for the tab');
  return { token: 'ok', devices: names.length, shown: (await messageTexts(page)).length };
}

try {
  let result;
  if (mode === 'test') result = await withBrowser((page) => test(page, Number(extra)));
  else if (mode === 'screenshots') result = await withBrowser((page) => screenshots(page, extra));
  else if (mode === 'perf') result = await withBrowser((page) => perf(page));
  // The 401s before the token is given are the point of this run.
  else if (mode === 'token') result = await withBrowser((page) => token(page, extra), (p) => p.includes('401'));
  else fail(`unknown mode ${mode}`);
  console.log(JSON.stringify(result));
} catch (error) {
  console.error(error.stack ?? String(error));
  process.exit(1);
}
