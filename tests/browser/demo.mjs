// What the browser tests share: starting and stopping `satchel demo` on a store,
// launching Debian's Chromium, submitting the demo's forms as a person would, and
// saving screenshots (tests/browser/screenshots/, gitignored).
//
// Env: SATCHEL_BIN  demo binary (default <repo>/target/debug/satchel)
//      CHROMIUM     browser binary (default /usr/bin/chromium)
//      SATCHEL_DEMO_LOG=1  show the demo's log live

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const SATCHEL_BIN = path.resolve(REPO, process.env.SATCHEL_BIN || 'target/debug/satchel');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = path.join(HERE, 'screenshots');

// Only the loopback address is ever used: the demo listens there and the
// browser is never pointed anywhere else.
export const HOST = '127.0.0.1';

// Flags for a root user on a machine without outside network: no sandbox (root),
// no GPU, and none of Chromium's background connections, which this network
// refuses and which only slow the start. Playwright gives every launch a fresh,
// temporary --user-data-dir of its own (it refuses one passed in `args`).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

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

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh temporary directory (removed by stopDemo when it is the demo's). */
export function tempDir(prefix = 'satchel-browser-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Start `satchel demo` on a free loopback port and wait until it answers HTTP.
 * `store(dataDir)` names the --store URL (default: a fresh SQLite file in a temp dir,
 * the demo's default kind of store, so sessions of an earlier run never count);
 * `env(dataDir)` adds environment variables. Retries with another port if the chosen
 * one was taken in between (the only race freePort leaves open).
 */
export async function startDemo({ store, env } = {}) {
  if (!fs.existsSync(SATCHEL_BIN)) {
    throw new Error(`demo binary not found at ${SATCHEL_BIN}; build it with \`cargo build -p satchel-cli\` or set SATCHEL_BIN`);
  }
  const dataDir = tempDir();
  const storeUrl = store ? store(dataDir) : `sqlite://${path.join(dataDir, 'demo.sqlite')}?mode=rwc`;
  const extraEnv = env ? env(dataDir) : {};
  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const base = `http://${HOST}:${port}`;
    const child = spawn(SATCHEL_BIN, ['demo', '--listen', `${HOST}:${port}`, '--store', storeUrl], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...extraEnv },
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
        return { child, base, port, dataDir, store: storeUrl, output: () => output };
      } catch {
        await sleep(100);
      }
    }
    if (!exited) {
      await stopDemo({ child, dataDir });
      throw new Error(`satchel demo did not answer on ${base} within 60s; its output:\n${output}`);
    }
    lastError = new Error(`satchel demo exited early (${JSON.stringify(exited)}) on port ${port}; its output:\n${output}`);
    if (!/in use|AddrInUse/i.test(output)) break; // not a port race: retrying will not help
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  throw lastError;
}

/** Stop the server we spawned, by its PID: politely, then firmly. */
export async function stopDemo(demo) {
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

/** Trimmed text of the first match, or null when there is none. */
export async function textOf(page, selector) {
  const loc = page.locator(selector);
  if ((await loc.count()) === 0) return null;
  return ((await loc.first().textContent()) ?? '').trim();
}

export async function shownUser(page) {
  const user = await textOf(page, '#user');
  assert.notEqual(user, null, 'the page has no #user element');
  return user;
}

/** Flash text on the page; "" when #flash is absent or empty. */
export async function shownFlash(page) {
  return (await textOf(page, '#flash')) ?? '';
}

/**
 * Submit a form by clicking its submit button (`formSelector` may match several forms:
 * the first is used), as a person would, and wait for the page it redirects to.
 * Asserts the Post/Redirect/Get contract: the POST answers 303 and the browser lands
 * on `landing` with 200.
 */
export async function submit(page, formSelector, landing = '/') {
  const button = page
    .locator(`${formSelector} button:not([type=button]):not([type=reset]), ${formSelector} input[type=submit]`)
    .first();
  assert.ok((await button.count()) >= 1, `no submit button in ${formSelector}`);

  const post = page.waitForResponse(
    (r) => r.request().method() === 'POST' && r.request().isNavigationRequest(),
  );
  const landed = page.waitForResponse(
    (r) => r.request().method() === 'GET' && r.request().isNavigationRequest() && new URL(r.url()).pathname === landing,
  );
  // The response events can fire before the new document is live, so mark the
  // old document and wait until a different one has finished loading.
  await page.evaluate(() => { window.__satchelOldDocument = true; });
  await button.click();
  const postResponse = await post;
  assert.equal(postResponse.status(), 303, `${formSelector} POST should answer 303 See Other, got ${postResponse.status()}`);
  const getResponse = await landed;
  assert.equal(getResponse.status(), 200, `GET ${landing} after ${formSelector} answered ${getResponse.status()}`);
  await page.waitForFunction(() => !window.__satchelOldDocument && document.readyState === 'complete');
  assert.equal(new URL(page.url()).pathname, landing, `after ${formSelector} the browser is at ${page.url()}`);
}

/** Saves a full-page screenshot as screenshots/DIR/NAME.png; never fails a test. */
export async function screenshot(page, dir, name) {
  try {
    const where = path.join(SCREENSHOTS, dir);
    fs.mkdirSync(where, { recursive: true });
    await page.screenshot({ path: path.join(where, `${name}.png`), fullPage: true });
  } catch (err) {
    // A picture for humans; never the reason a test fails.
    console.error(`screenshot ${dir}/${name} failed: ${err.message}`);
  }
}

/** Removes screenshots/DIR (pictures of an earlier run would mislead) and says where they go. */
export function freshScreenshotDir(dir) {
  const where = path.join(SCREENSHOTS, dir);
  fs.rmSync(where, { recursive: true, force: true });
  console.log(`screenshots: ${where}`);
  return where;
}

/** Launches headless Chromium (Debian's, never a downloaded one). */
export async function launchBrowser(chromium) {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
