// The demo's "your devices" page in a real browser (Debian's Chromium, driven by
// playwright-core), once per store: browser contexts are devices. Two devices log in,
// one signs the other out and the other finds itself logged out on its next click;
// "log out everywhere else"; "remember me" survives closing the browser and a plain
// login does not; the cookie jar holds HttpOnly, SameSite=Lax cookies.
//
// Stores: memory:, SQLite in a temp dir, the shared Redis on 127.0.0.1:6379 (the demo's
// own key prefix; user names unique to this run, so nobody else's sessions count), and
// sealed cookies (cookie:, revocations in a temp SQLite file), which cannot list sessions:
// the page must say so, and "log out everywhere else" must still work.
// SATCHEL_BROWSER_STORES=memory,sqlite,redis,cookie picks; SATCHEL_REDIS_URL (what scripts/services exports) moves Redis.
//
// Screenshots of every page: tests/browser/screenshots/devices-STORE/ (path printed).

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM, CHROMIUM_ARGS, HOST, freshScreenshotDir, launchBrowser, screenshot, shownFlash, shownUser,
  startDemo, stopDemo, submit, tempDir,
} from './demo.mjs';

const STORES = {
  memory: { store: () => 'memory:', listed: true },
  sqlite: { store: (dir) => `sqlite://${path.join(dir, 'sessions.sqlite')}?mode=rwc`, listed: true },
  redis: { store: () => process.env.SATCHEL_REDIS_URL || 'redis://127.0.0.1:6379', listed: true },
  cookie: {
    store: () => 'cookie:',
    // A fixed strong secret for this run only; revocations in the run's temp dir.
    env: (dir) => ({
      SATCHEL_SECRET: 'browser-test-' + 'k7Qp2mZx9LwR4vTb8NcY3sHj6FgD1aUe',
      SATCHEL_REVOCATIONS: `sqlite://${path.join(dir, 'revocations.sqlite')}?mode=rwc`,
    }),
    listed: false,
  },
};

const chosen = (process.env.SATCHEL_BROWSER_STORES || 'memory,sqlite,redis,cookie').split(',').map((s) => s.trim());
for (const name of chosen) {
  assert.ok(STORES[name], `SATCHEL_BROWSER_STORES: unknown store ${name} (known: ${Object.keys(STORES).join(', ')})`);
}

// Different user agents, so the page has different devices to name.
const LAPTOP_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const PHONE_UA = 'Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0';
const TABLET_UA = 'Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

/** Logs `user` in through the home page's form; `remember` ticks "remember me". */
async function logIn(page, base, user, { remember = false } = {}) {
  await page.goto(`${base}/`);
  await page.locator('#login-form input[name=user]').fill(user);
  if (remember) await page.locator('#remember').check();
  await submit(page, '#login-form');
  assert.equal(await shownUser(page), user);
}

/** The rows of the devices table: { handle, current, text }. */
async function deviceRows(page) {
  return page.locator('#devices tr.device').evaluateAll((rows) => rows.map((r) => ({
    handle: r.dataset.device ?? null,
    current: r.dataset.current === 'true',
    text: r.textContent.replace(/\s+/g, ' ').trim(),
  })));
}

/** The demo's session cookie in `context`, checked for the attributes it must have. */
async function checkedCookie(context, { persistent }) {
  const cookies = (await context.cookies()).filter((c) => c.domain === HOST);
  assert.equal(cookies.length, 1, `one session cookie expected: ${cookies.map((c) => c.name).join(', ')}`);
  const [cookie] = cookies;
  assert.equal(cookie.httpOnly, true, 'the session cookie must be HttpOnly');
  assert.equal(cookie.sameSite, 'Lax', 'the session cookie must be SameSite=Lax');
  assert.equal(cookie.path, '/');
  if (persistent) {
    assert.ok(cookie.expires > Date.now() / 1000 + 24 * 3600, `a remembered cookie lasts days: expires ${cookie.expires}`);
  } else {
    assert.equal(cookie.expires, -1, 'a plain login gets a browser-session cookie (no Max-Age)');
  }
  return cookie;
}

/** The deadlines the home page shows, as epoch milliseconds. */
async function shownDeadlines(page) {
  const ms = async (sel) => Number(await page.locator(`${sel} time`).first().getAttribute('data-ms'));
  return { idle: await ms('#idle-deadline'), absolute: await ms('#absolute-deadline') };
}

// Users of this run only: on a shared store an owner's sessions are everybody's who
// picked the same name.
const RUN = `${process.pid}-${Date.now().toString(36)}`;
const BOB = `bob-${RUN}`;
const CAROL = `carol-${RUN}`;

let browser;

before(async () => {
  browser = await launchBrowser(chromium);
});

after(async () => {
  await browser?.close().catch(() => {});
});

for (const name of chosen) {
  const kind = STORES[name];
  const shots = `devices-${name}`;

  describe(`your devices on ${name}`, { timeout: 180_000 }, () => {
    let demo;
    const contexts = [];
    let broken = false;
    let laptop;
    let phone;

    const device = async (userAgent) => {
      const context = await browser.newContext({ userAgent });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
      return { context, page };
    };

    before(async () => {
      freshScreenshotDir(shots);
      demo = await startDemo({ store: kind.store, env: kind.env });
      laptop = await device(LAPTOP_UA);
      phone = await device(PHONE_UA);
    });

    after(async () => {
      if (broken) {
        for (const [i, c] of contexts.entries()) {
          for (const p of c.pages()) await screenshot(p, shots, `failure-${i}`);
        }
      }
      for (const c of contexts) await c.close().catch(() => {});
      await stopDemo(demo);
    });

    // The steps build on each other, so they run in order; after a failure the rest
    // are skipped instead of failing confusingly.
    const step = (title, fn) => test(title, async (t) => {
      if (broken) { t.skip('an earlier step failed'); return; }
      try {
        await fn(t);
      } catch (err) {
        broken = true;
        err.message += `\n(demo on ${demo?.store}; its log:\n${demo?.output().slice(-3000)})`;
        throw err;
      }
    });

    step('two devices log in; the page shows the deadlines and an HttpOnly, SameSite=Lax cookie', async () => {
      await logIn(laptop.page, demo.base, BOB);
      assert.match(await shownFlash(laptop.page), new RegExp(`Welcome, ${BOB}`));
      await screenshot(laptop.page, shots, '1-home-logged-in');
      const { idle, absolute } = await shownDeadlines(laptop.page);
      const now = Date.now();
      assert.ok(idle > now && idle <= absolute, `idle deadline ${idle} should be after now ${now} and not after ${absolute}`);
      assert.ok(absolute > now + 3600_000, `absolute deadline ${absolute} is hours away`);
      assert.equal(await laptop.page.locator('#persistence').getAttribute('data-persistent'), 'false');
      await checkedCookie(laptop.context, { persistent: false });
      const visible = await laptop.page.evaluate(() => document.cookie);
      assert.equal(visible, '', `page script can read cookies: ${visible}`);

      await logIn(phone.page, demo.base, BOB);
      await checkedCookie(phone.context, { persistent: false });
    });

    step(kind.listed
      ? 'the devices page lists both, marks this one, and names the other'
      : 'the devices page says sealed cookies cannot be listed, and shows this device', async () => {
      const page = laptop.page;
      await page.locator('#devices-link').click();
      await page.waitForURL(`${demo.base}/devices`);
      await screenshot(page, shots, '2-devices');
      if (!kind.listed) {
        assert.match(await page.locator('#unlisted').textContent(), /cannot list/);
        assert.equal(await page.locator('#devices').count(), 0, 'no made-up device list');
        assert.equal(await page.locator('.revoke-form').count(), 0, 'no per-device buttons it cannot honour');
        assert.match(await page.locator('#this-device').textContent(), /Chrome on Linux.*this device/s);
        assert.match(await page.locator('#this-device .ip').textContent(), /^127\.0\.0\.1$/);
        return;
      }
      const rows = await deviceRows(page);
      assert.equal(rows.length, 2, `bob has two devices: ${JSON.stringify(rows)}`);
      const [mine, other] = [rows.filter((r) => r.current), rows.filter((r) => !r.current)];
      assert.equal(mine.length, 1, 'exactly one row is this device');
      assert.match(mine[0].text, /Chrome on Linux/);
      assert.match(mine[0].text, /this device/);
      assert.match(other[0].text, /Firefox on Android/);
      assert.match(other[0].text, /127\.0\.0\.1/, 'the other device\'s IP');
      assert.equal(await page.locator('.revoke-form').count(), 1, 'a sign-out button for the other device only');
      // The phone sees the same two, with itself marked.
      await phone.page.goto(`${demo.base}/devices`);
      const seen = await deviceRows(phone.page);
      assert.equal(seen.length, 2);
      assert.match(seen.find((r) => r.current).text, /Firefox on Android/);
      await screenshot(phone.page, shots, '2-devices-phone');
    });

    step(kind.listed
      ? 'the laptop signs the phone out; the phone is logged out on its next click'
      : 'there is no per-device sign-out to offer (sealed cookies)', async () => {
      if (!kind.listed) {
        // The phone's page still works for it: nothing was revoked.
        await phone.page.goto(`${demo.base}/`);
        assert.equal(await shownUser(phone.page), BOB);
        return;
      }
      const page = laptop.page;
      await submit(page, '.revoke-form', '/devices');
      assert.match(await shownFlash(page), /Signed out Firefox on Android/);
      const rows = await deviceRows(page);
      assert.equal(rows.length, 1, `one device left: ${JSON.stringify(rows)}`);
      assert.ok(rows[0].current);
      await screenshot(page, shots, '3-devices-after-revoke');

      // The phone still shows its old page; its next click finds it logged out.
      await submit(phone.page, '#revoke-others-form', '/');
      assert.equal(await shownUser(phone.page), 'anonymous');
      assert.match(await shownFlash(phone.page), /signed out on this device/);
      await screenshot(phone.page, shots, '3-phone-signed-out');
      // And the laptop is still signed in.
      await page.goto(`${demo.base}/`);
      assert.equal(await shownUser(page), BOB);
    });

    step('"log out everywhere else" signs out every other device and keeps this one', async () => {
      const tablet = await device(TABLET_UA);
      if (kind.listed) await logIn(phone.page, demo.base, BOB);
      await logIn(tablet.page, demo.base, BOB);
      const page = laptop.page;
      await page.goto(`${demo.base}/devices`);
      if (kind.listed) assert.equal((await deviceRows(page)).length, 3);
      await submit(page, '#revoke-others-form', '/devices');
      assert.match(await shownFlash(page), kind.listed ? /Signed out 2 other devices/ : /Signed out everywhere else/);
      if (kind.listed) {
        const rows = await deviceRows(page);
        assert.equal(rows.length, 1, `only this device left: ${JSON.stringify(rows)}`);
        assert.ok(rows[0].current);
      }
      await screenshot(page, shots, '4-devices-after-everywhere-else');
      await page.goto(`${demo.base}/`);
      assert.equal(await shownUser(page), BOB, 'the device that asked stays signed in');
      for (const other of [phone, tablet]) {
        await submit(other.page, '#counter-form', '/');
        assert.equal(await shownUser(other.page), 'anonymous', 'another device is still signed in');
      }
      await screenshot(tablet.page, shots, '4-tablet-signed-out');
    });

    step('logging out ends the laptop too', async () => {
      await submit(laptop.page, '#logout-form', '/');
      assert.equal(await shownUser(laptop.page), 'anonymous');
      assert.match(await shownFlash(laptop.page), /logged out/);
      await laptop.page.goto(`${demo.base}/devices`);
      assert.equal(await laptop.page.locator('#not-logged-in').count(), 1);
      await screenshot(laptop.page, shots, '5-devices-logged-out');
    });

    // Closing a persistent browser profile and opening it again is a browser restart:
    // Chromium keeps cookies with an expiry on disk and drops session cookies.
    for (const remember of [true, false]) {
      step(remember
        ? '"remember me" survives closing the browser (a persistent cookie)'
        : 'a login without "remember me" ends when the browser closes', async () => {
        const profile = tempDir('satchel-profile-');
        const open = () => chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
        });
        try {
          let context = await open();
          let page = context.pages()[0] ?? await context.newPage();
          await logIn(page, demo.base, CAROL, { remember });
          assert.equal(await page.locator('#persistence').getAttribute('data-persistent'), String(remember));
          if (remember) assert.match(await shownFlash(page), /remembers you for 30 days/);
          await checkedCookie(context, { persistent: remember });
          await screenshot(page, shots, remember ? '6-remembered' : '6-not-remembered');
          await context.close();

          context = await open();
          try {
            page = context.pages()[0] ?? await context.newPage();
            await page.goto(`${demo.base}/`);
            assert.equal(await shownUser(page), remember ? CAROL : 'anonymous',
              remember ? 'the remembered login is gone after a browser restart' : 'a plain login outlived the browser');
            await screenshot(page, shots, remember ? '6-remembered-after-restart' : '6-not-remembered-after-restart');
            // Leave no remembered session behind in a shared store.
            if (remember) await submit(page, '#logout-form', '/');
          } finally {
            await context.close();
          }
        } finally {
          fs.rmSync(profile, { recursive: true, force: true });
        }
      });
    }
  });
}
