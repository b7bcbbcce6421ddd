// End-to-end test of `satchel demo` in a real browser (Debian's Chromium, driven
// by playwright-core). It checks what only a browser can show: which cookies it
// really stores, that they are HttpOnly, that a login rotates the session id, and
// that a cookie captured before logout is worthless afterwards.
//
// Run: scripts/test (or, after `cargo build -p satchel-cli`: cd tests/browser && npm test)
// Env: SATCHEL_BIN  demo binary (default <repo>/target/debug/satchel)
//      CHROMIUM     browser binary (default /usr/bin/chromium)
//      SATCHEL_COOKIE_NAME  the session cookie's name, if the demo sets several cookies
//
// What the demo must serve (http://127.0.0.1:PORT after `satchel demo --listen 127.0.0.1:PORT`):
//   GET /            HTML with #user ("anonymous" or the name), #n (counter), #flash
//                    (flash messages), forms #login-form (input[name=user]), #logout-form,
//                    #counter-form; each form POSTs and answers 303 See Other to /. Once the
//                    visitor has a session the forms carry a hidden `csrf` token field (a
//                    click submits it); cross-site posts are refused with 403.
//   GET /api/whoami  {"user": string|null, "n": int}, never creates a session
//   POST /api/counter -> {"n": int}; POST /api/login (form field user) -> {"user": ...};
//   POST /api/logout; GET /api/sessions -> JSON array (or {"sessions": [...]});
//   POST /api/sessions/revoke-others

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const SATCHEL_BIN = path.resolve(REPO, process.env.SATCHEL_BIN || 'target/debug/satchel');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCREENSHOTS = path.join(HERE, 'screenshots');

// Only the loopback address is ever used: the demo listens there and the
// browser is never pointed anywhere else.
const HOST = '127.0.0.1';

// Flags for a root user on a machine without outside network: no sandbox (root),
// no GPU, and none of Chromium's background connections, which this network
// refuses and which only slow the start. Playwright gives every launch a fresh,
// temporary --user-data-dir of its own (it refuses one passed in `args`).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// --- the demo server ---------------------------------------------------------------

/** A port the kernel just handed out, so almost surely free a moment later. */
async function freePort() {
  const srv = net.createServer();
  srv.listen(0, HOST);
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start `satchel demo` on a free loopback port and wait until it answers HTTP.
 * Retries with another port if the chosen one was taken in between (the only
 * race freePort leaves open).
 */
async function startDemo() {
  if (!fs.existsSync(SATCHEL_BIN)) {
    throw new Error(`demo binary not found at ${SATCHEL_BIN}; build it with \`cargo build -p satchel-cli\` or set SATCHEL_BIN`);
  }
  // A fresh SQLite file per run (the demo's default kind of store), so sessions left by
  // an earlier run can never change what this one sees.
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'satchel-browser-'));
  const store = `sqlite://${path.join(dataDir, 'demo.sqlite')}?mode=rwc`;
  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const base = `http://${HOST}:${port}`;
    const child = spawn(SATCHEL_BIN, ['demo', '--listen', `${HOST}:${port}`, '--store', store], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
    });
    // Keep the server's output for the failure message, and show it live when
    // debugging (SATCHEL_DEMO_LOG=1).
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (output.length > 20000) output = output.slice(-20000);
      if (process.env.SATCHEL_DEMO_LOG === '1') process.stderr.write(chunk);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    let exited = null;
    child.on('exit', (code, signal) => { exited = { code, signal }; });
    child.on('error', (err) => { exited = { error: err }; });

    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !exited) {
      try {
        // Any HTTP answer means it is listening; /api/whoami creates no session.
        await fetch(`${base}/api/whoami`, { signal: AbortSignal.timeout(2000) });
        return { child, base, port, dataDir, output: () => output };
      } catch {
        await sleep(100);
      }
    }
    if (!exited) {
      await stopDemo({ child });
      throw new Error(`satchel demo did not answer on ${base} within 60s; its output:\n${output}`);
    }
    lastError = new Error(`satchel demo exited early (${JSON.stringify(exited)}) on port ${port}; its output:\n${output}`);
    if (!/in use|AddrInUse/i.test(output)) break; // not a port race: retrying will not help
  }
  throw lastError;
}

/** Stop the server we spawned, by its PID: politely, then firmly. */
async function stopDemo(demo) {
  const child = demo?.child;
  const cleanUp = () => demo?.dataDir && fs.rmSync(demo.dataDir, { recursive: true, force: true });
  if (!child || child.exitCode !== null || child.signalCode !== null) return cleanUp();
  const gone = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  const timedOut = await Promise.race([gone.then(() => false), sleep(5000).then(() => true)]);
  if (timedOut) {
    process.kill(child.pid, 'SIGKILL');
    await gone;
  }
  cleanUp();
}

// --- page helpers --------------------------------------------------------------------

/** Trimmed text of the first match, or null when there is none. */
async function textOf(page, selector) {
  const loc = page.locator(selector);
  if ((await loc.count()) === 0) return null;
  return ((await loc.first().textContent()) ?? '').trim();
}

async function shownUser(page) {
  const user = await textOf(page, '#user');
  assert.notEqual(user, null, 'the page has no #user element');
  return user;
}

async function shownCounter(page) {
  const text = await textOf(page, '#n');
  assert.notEqual(text, null, 'the page has no #n element');
  const n = Number.parseInt(text, 10);
  assert.ok(Number.isInteger(n), `#n should show a number, shows ${JSON.stringify(text)}`);
  return n;
}

/** Flash text on the page; "" when #flash is absent or empty. */
async function shownFlash(page) {
  return (await textOf(page, '#flash')) ?? '';
}

/**
 * Submit a form by clicking its submit button, as a person would, and wait for
 * the page it redirects to. Asserts the Post/Redirect/Get contract: the POST
 * answers 303 and the browser lands on / with 200.
 */
async function submit(page, formSelector) {
  const button = page
    .locator(`${formSelector} button:not([type=button]):not([type=reset]), ${formSelector} input[type=submit]`)
    .first();
  assert.equal(await button.count(), 1, `no submit button in ${formSelector}`);

  const post = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.request().isNavigationRequest(),
  );
  const landed = page.waitForResponse(
    (r) => r.request().method() === 'GET' && r.request().isNavigationRequest() && new URL(r.url()).pathname === '/',
  );
  // The response events can fire before the new document is live, so mark the
  // old document and wait until a different one has finished loading.
  await page.evaluate(() => { window.__satchelOldDocument = true; });
  await button.click();
  const postResponse = await post;
  assert.equal(postResponse.status(), 303, `${formSelector} POST should answer 303 See Other, got ${postResponse.status()}`);
  const getResponse = await landed;
  assert.equal(getResponse.status(), 200, `GET / after ${formSelector} answered ${getResponse.status()}`);
  await page.waitForFunction(() => !window.__satchelOldDocument && document.readyState === 'complete');
  assert.equal(new URL(page.url()).pathname, '/', `after ${formSelector} the browser is at ${page.url()}`);
}

/** JSON from the demo, fetched inside the page so the browser's own cookies go along. */
async function apiFromPage(page, method, urlPath, form) {
  return page.evaluate(async ({ method, urlPath, form }) => {
    const init = { method, credentials: 'same-origin' };
    if (form) init.body = new URLSearchParams(form);
    const r = await fetch(urlPath, init);
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* reported below */ }
    return { status: r.status, json, text: text.slice(0, 500) };
  }, { method, urlPath, form });
}

/** Compare the fields of /api/whoami we rely on (the demo may add others). */
function assertWho(json, user, n, message) {
  assert.deepEqual({ user: json.user, n: json.n }, { user, n }, message);
}

async function apiJson(page, method, urlPath, form) {
  const r = await apiFromPage(page, method, urlPath, form);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${urlPath} answered ${r.status}: ${r.text}`);
  assert.notEqual(r.json, null, `${method} ${urlPath} did not answer JSON: ${r.text}`);
  return r.json;
}

/**
 * The session cookie among the browser's cookies for the demo. The demo is
 * expected to set exactly one cookie; SATCHEL_COOKIE_NAME picks one if it sets more.
 */
async function sessionCookie(context) {
  const cookies = (await context.cookies()).filter((c) => c.domain === HOST);
  const wanted = process.env.SATCHEL_COOKIE_NAME;
  if (wanted) return cookies.find((c) => c.name === wanted) ?? null;
  assert.ok(cookies.length <= 1,
    `expected one session cookie, found ${cookies.map((c) => c.name).join(', ')}; set SATCHEL_COOKIE_NAME`);
  return cookies[0] ?? null;
}

/** A cookie replayed by a fresh browser (an attacker who copied it): who does the server say it is? */
async function whoamiWithCookie(browser, base, cookie) {
  const context = await browser.newContext();
  try {
    await context.addCookies([{ name: cookie.name, value: cookie.value, domain: HOST, path: '/' }]);
    const page = await context.newPage();
    const response = await page.goto(`${base}/api/whoami`);
    assert.equal(response.status(), 200, `GET /api/whoami with a replayed cookie answered ${response.status()}`);
    return await response.json();
  } finally {
    await context.close();
  }
}

/** GET /api/sessions: a JSON array, or an object carrying it as `sessions`. */
async function listSessions(page) {
  const body = await apiJson(page, 'GET', '/api/sessions');
  const list = Array.isArray(body) ? body : body?.sessions;
  assert.ok(Array.isArray(list), `GET /api/sessions should be a list (or {"sessions": [...]}): ${JSON.stringify(body)}`);
  return list;
}

async function screenshot(page, name) {
  try {
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  } catch (err) {
    // A picture for humans; never the reason a test fails.
    console.error(`screenshot ${name} failed: ${err.message}`);
  }
}

// --- the tests ------------------------------------------------------------------------

let demo;
let browser;

before(async () => {
  // Pictures from an earlier run (a stale failure.png, say) would mislead.
  fs.rmSync(SCREENSHOTS, { recursive: true, force: true });
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  demo = await startDemo();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close().catch(() => {});
  await stopDemo(demo);
});

// The steps build on each other (one browser, one session), so they run in
// order; once one fails, the rest are skipped instead of failing confusingly.
describe('a visitor in a real browser', { timeout: 120_000 }, () => {
  let context;
  let page;
  let broken = false;
  let anonymousCookie; // after two increments
  let aliceCookie; // after login

  before(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  });

  after(async () => {
    if (broken && page) await screenshot(page, 'failure');
    await context?.close().catch(() => {});
  });

  // Wraps a step: skip it after an earlier failure, remember a failure.
  const step = (name, fn) => test(name, async (t) => {
    if (broken) { t.skip('an earlier step failed'); return; }
    try {
      await fn(t);
    } catch (err) {
      broken = true;
      throw err;
    }
  });

  step('viewing / as a stranger shows "anonymous" and sets no cookie', async () => {
    const response = await page.goto(`${demo.base}/`);
    assert.equal(response.status(), 200);
    assert.equal(await shownUser(page), 'anonymous');
    assert.equal(await shownCounter(page), 0);
    assert.deepEqual(await context.cookies(), [], 'merely viewing the page must not set a cookie');

    // Neither does asking who we are.
    assertWho(await apiJson(page, 'GET', '/api/whoami'), null, 0);
    assert.deepEqual(await context.cookies(), [], 'GET /api/whoami must not create a session');
  });

  step('incrementing twice counts to 2 and sets one HttpOnly session cookie', async () => {
    await submit(page, '#counter-form');
    assert.equal(await shownCounter(page), 1);
    await submit(page, '#counter-form');
    assert.equal(await shownCounter(page), 2);
    assert.equal(await shownUser(page), 'anonymous');

    anonymousCookie = await sessionCookie(context);
    assert.ok(anonymousCookie, 'incrementing must set a session cookie');
    assert.equal(anonymousCookie.httpOnly, true, 'the session cookie must be HttpOnly');
    const visibleToScript = await page.evaluate(() => document.cookie);
    assert.ok(!visibleToScript.includes(anonymousCookie.name), `page script can read the session cookie: ${visibleToScript}`);
    assertWho(await apiJson(page, 'GET', '/api/whoami'), null, 2);
  });

  step('logging in as alice shows her name and a flash once, rotates the id and keeps n', async () => {
    await page.locator('#login-form input[name=user]').fill('alice');
    await submit(page, '#login-form');
    assert.equal(await shownUser(page), 'alice');
    assert.equal(await shownCounter(page), 2, 'logging in must keep the session data');
    const flash = await shownFlash(page);
    assert.notEqual(flash, '', 'a flash message should appear after logging in');
    await screenshot(page, 'logged-in');

    aliceCookie = await sessionCookie(context);
    assert.ok(aliceCookie, 'the session cookie disappeared on login');
    assert.equal(aliceCookie.name, anonymousCookie.name);
    assert.notEqual(aliceCookie.value, anonymousCookie.value, 'login must rotate the session id');
    assert.equal(aliceCookie.httpOnly, true, 'the session cookie must stay HttpOnly');

    // Flash messages are shown once: a reload no longer has it.
    const reload = await page.reload();
    assert.equal(reload.status(), 200);
    assert.equal(await shownFlash(page), '', `the flash message came back on reload: ${await shownFlash(page)}`);
    assert.equal(await shownUser(page), 'alice');
    assert.equal(await shownCounter(page), 2);

    // Session fixation: the id from before login must not be alice's.
    const replayed = await whoamiWithCookie(browser, demo.base, anonymousCookie);
    assert.equal(replayed.user, null, 'the pre-login session id still works after login (fixation)');
  });

  step('logging out shows "anonymous" and the old cookie no longer works', async () => {
    await submit(page, '#logout-form');
    assert.equal(await shownUser(page), 'anonymous');
    await screenshot(page, 'logged-out');

    const now = await sessionCookie(context);
    assert.ok(!now || now.value !== aliceCookie.value, 'the browser still holds alice\'s session cookie after logout');
    assert.equal((await apiJson(page, 'GET', '/api/whoami')).user, null);

    // The server must have destroyed the session, not just told the browser to
    // forget it: replaying the captured cookie gets nobody.
    const replayed = await whoamiWithCookie(browser, demo.base, aliceCookie);
    assert.equal(replayed.user, null, `alice's cookie still logs in after logout: ${JSON.stringify(replayed)}`);
  });
});

// Two browsers of one user ("laptop" and "phone"): the owner index behind
// /api/sessions and "log out everywhere else".
describe('one user on two devices', { timeout: 120_000 }, () => {
  let laptop;
  let phone;

  before(async () => {
    laptop = await browser.newContext();
    phone = await browser.newContext();
  });

  after(async () => {
    await laptop?.close().catch(() => {});
    await phone?.close().catch(() => {});
  });

  test('the JSON API counts, lists both sessions and revokes the other one', async () => {
    const a = await laptop.newPage();
    const b = await phone.newPage();
    await a.goto(`${demo.base}/`);
    await b.goto(`${demo.base}/`);

    assert.equal((await apiJson(a, 'POST', '/api/counter')).n, 1);
    assert.equal((await apiJson(a, 'POST', '/api/counter')).n, 2);
    assert.equal((await apiJson(a, 'POST', '/api/login', { user: 'bob' })).user, 'bob');
    assert.equal((await apiJson(b, 'POST', '/api/login', { user: 'bob' })).user, 'bob');
    assertWho(await apiJson(a, 'GET', '/api/whoami'), 'bob', 2, 'login must keep the laptop\'s data');
    assertWho(await apiJson(b, 'GET', '/api/whoami'), 'bob', 0);

    const sessions = await listSessions(a);
    assert.equal(sessions.length, 2, `bob should have 2 sessions: ${JSON.stringify(sessions)}`);

    const revoke = await apiFromPage(a, 'POST', '/api/sessions/revoke-others');
    assert.ok(revoke.status >= 200 && revoke.status < 300, `revoke-others answered ${revoke.status}: ${revoke.text}`);

    assert.equal((await apiJson(a, 'GET', '/api/whoami')).user, 'bob', 'revoke-others logged out the device that asked');
    assert.equal((await apiJson(b, 'GET', '/api/whoami')).user, null, 'the other device is still logged in');
    const left = await listSessions(a);
    assert.equal(left.length, 1, `bob should have 1 session left: ${JSON.stringify(left)}`);

    const out = await apiFromPage(a, 'POST', '/api/logout');
    assert.ok(out.status >= 200 && out.status < 400, `POST /api/logout answered ${out.status}: ${out.text}`);
    assert.equal((await apiJson(a, 'GET', '/api/whoami')).user, null);
  });
});
