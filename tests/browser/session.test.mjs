// End-to-end test of `satchel demo` in a real browser (Debian's Chromium, driven
// by playwright-core). It checks what only a browser can show: which cookies it
// really stores, that they are HttpOnly, that a login rotates the session id, and
// that a cookie captured before logout is worthless afterwards.
//
// Run: scripts/test (or, after `cargo build -p satchel-cli`: cd tests/browser && npm test)
// Env: as demo.mjs says, and
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
import { chromium } from 'playwright-core';
import {
  HOST, freshScreenshotDir, launchBrowser, screenshot as save, shownFlash, shownUser, startDemo, stopDemo,
  submit, textOf,
} from './demo.mjs';

// --- page helpers --------------------------------------------------------------------

async function shownCounter(page) {
  const text = await textOf(page, '#n');
  assert.notEqual(text, null, 'the page has no #n element');
  const n = Number.parseInt(text, 10);
  assert.ok(Number.isInteger(n), `#n should show a number, shows ${JSON.stringify(text)}`);
  return n;
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

const SHOTS = 'session';
const screenshot = (page, name) => save(page, SHOTS, name);

// --- the tests ------------------------------------------------------------------------

let demo;
let browser;

before(async () => {
  // Pictures from an earlier run (a stale failure.png, say) would mislead.
  freshScreenshotDir(SHOTS);
  demo = await startDemo();
  browser = await launchBrowser(chromium);
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
