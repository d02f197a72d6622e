// The browser-test harness: the real kefu binary on a free port, the fake
// OpenAI upstream as a process, a customer site on another origin, and
// Debian's Chromium driven by playwright-core. Everything started here is
// stopped by stopAll(); every wait is bounded and polls.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const CHROMIUM = process.env.KEFU_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(repo, 'e2e', 'screenshots');
// The customer site's host name: mapped to 127.0.0.1 inside Chromium, so
// the site is another origin *and* another site than the relay (127.0.0.1),
// and, like most shops in development, not a secure context.
export const SITE_HOST = 'shop.test';

const cleanups = [];
const shots = [];
let tmpRoot = '';
function tmp(prefix) {
  if (!tmpRoot) tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kefu-e2e-'));
  return fs.mkdtempSync(path.join(tmpRoot, prefix));
}

// suite runs the tests when Chromium is there, skips them loudly when it is
// not, and fails when it is not but CI=true.
export function suite(name, fn) {
  if (fs.existsSync(CHROMIUM)) {
    describe(name, { timeout: 480_000 }, fn); // only a stuck suite waits it; a loaded box took 180 s for the console's
    after(stopAll);
    return;
  }
  const msg = `Chromium not found at ${CHROMIUM} (install Debian's chromium or set KEFU_CHROMIUM)`;
  if (process.env.CI === 'true') {
    test(`${name}: Chromium is required in CI`, () => assert.fail(msg));
    return;
  }
  process.stderr.write(`\n${'#'.repeat(72)}\n# SKIPPED browser tests "${name}": ${msg}\n${'#'.repeat(72)}\n\n`);
  describe(name, { skip: msg }, fn);
}

// missing names a relay piece the tests need but the binary lacks (built
// without the wasm, say); it() fails with that name instead of obscurely.
let missing = '';
export function it(name, fn, opts = {}) {
  return test(name, opts, async (t) => {
    if (missing) assert.fail(`MISSING RELAY PIECE: ${missing}`);
    return fn(t);
  });
}
async function probe(relay) {
  const res = await fetch(`${relay.url}/widget.js`);
  if (res.status === 404) missing = 'GET /widget.js is 404: the relay does not serve widget.FS (app.assetTrees)';
  const cfg = await fetch(`${relay.url}/v1/widget/config`);
  if (!missing && !cfg.ok) missing = `GET /v1/widget/config is ${cfg.status}`;
  const c = cfg.ok ? await cfg.json() : {};
  if (!missing && !c.panel) missing = 'GET /v1/widget/config has no "panel" URL (widget.FS not served)';
  // The wasm is fetched cross-origin by customer pages: it needs CORS.
  relay.wasmIssue = '';
  if (!c.wasm) relay.wasmIssue = 'relay config has "wasm": null (run make wasm before building the relay)';
  else {
    const res = await fetch(relay.url + c.wasm.url, { headers: { Origin: 'http://shop.test' } });
    await res.arrayBuffer();
    if (!res.headers.get('access-control-allow-origin')) relay.wasmIssue = `relay serves ${c.wasm.url} without Access-Control-Allow-Origin: GET /assets/{hash}/{name} needs CORS for fetch()+instantiateStreaming`;
  }
}

export async function stopAll() {
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch (e) { process.stderr.write(`cleanup: ${e.message}\n`); }
  }
  if (shots.length) process.stdout.write(`screenshots saved:\n${shots.map((s) => `  e2e/${s}`).join('\n')}\n`);
  if (tmpRoot) fs.rmSync(tmpRoot, { recursive: true, force: true });
  tmpRoot = '';
}

// freePort returns a loopback port nothing listens on now and that this
// process has not handed out before: the kernel often gives a port just
// closed to the next listen(0), so two of a test's servers could otherwise
// be told the same one.
const givenPorts = new Set();
export async function freePort() {
  for (let i = 0; i < 1000; i++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
    });
    if (!givenPorts.has(port)) { givenPorts.add(port); return port; }
  }
  throw new Error('freePort: every port offered in 1000 tries was handed out already');
}

// poll calls fn until it returns a truthy value or the deadline passes.
// The default deadline is generous (a loaded two-core box running two
// browser files at once took over 10 s to save and refit an intent); a
// poll returns as soon as fn holds, so only a failure waits it out.
export async function poll(fn, { timeout = 30_000, every = 50, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try { const v = await fn(); if (v) return v; last = v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    // The tests decide every relay setting; never reach a real model.
    if (!k.startsWith('KEFU_') && !k.startsWith('OPENAI_')) env[k] = v;
  }
  return { ...env, ...extra };
}

async function stopProc(proc, grace = 5000) {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), grace);
  await exited;
  clearTimeout(t);
}

// freeze stops a process the harness started (SIGSTOP) until the returned
// thaw is called or the test ends. A frozen server keeps its sockets open
// and answers nothing: a test holds the fake upstream this way until the
// page is in the state the answer must find, instead of betting that the
// page gets there within some delay.
export function freeze(t, proc) {
  process.kill(proc.pid, 'SIGSTOP');
  let frozen = true;
  const thaw = () => { if (frozen) { frozen = false; process.kill(proc.pid, 'SIGCONT'); } };
  t.after(thaw);
  return thaw;
}

// METRICS_TOKEN opens /metrics on the relays the harness starts (it is not
// public otherwise).
export const METRICS_TOKEN = 'e2e-metrics-token-0123456789';

// startRelay runs the real kefu binary (KEFU_BIN) with a fresh data dir.
export async function startRelay({ args = [], env = {} } = {}) {
  const bin = path.resolve(process.cwd(), process.env.KEFU_BIN || path.join(repo, 'bin/kefu'));
  if (!fs.existsSync(bin)) throw new Error(`relay binary ${bin} not found: run make build, or set KEFU_BIN`);
  const data = tmp('data-');
  const relay = { port: 0, url: '', data, logs: '', proc: null };
  relay.start = async () => {
    const proc = spawn(bin, ['serve', '--addr', `127.0.0.1:${relay.port}`, '--data', data, '--log-level', 'warn',
      '--admin-password', 'e2e-admin-password', '--metrics-token', METRICS_TOKEN,
      // The fake upstream is on 127.0.0.1: let the admin's AI test reach it.
      '--allow-private-destinations=true', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    relay.proc = proc;
    const keep = (b) => { relay.logs = (relay.logs + b).slice(-20_000); };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    // 'close': exited, and its output read to the end.
    let closed = false;
    proc.once('close', () => { closed = true; });
    // An exit ends the wait at once (poll would retry a throw until its deadline).
    await poll(async () => closed || (await fetch(`${relay.url}/readyz`)).ok, { timeout: 60_000, what: 'kefu /readyz' });
    if (closed) throw new Error(`kefu exited ${proc.exitCode}: ${relay.logs}`);
  };
  relay.stop = () => stopProc(relay.proc);
  relay.restart = async () => { await relay.stop(); await relay.start(); };
  cleanups.push(() => relay.stop());
  // The port is free when chosen, but another process (other test files
  // run at the same time) may take it before kefu binds it: then another.
  for (let attempt = 1; ; attempt++) {
    relay.port = await freePort();
    relay.url = `http://127.0.0.1:${relay.port}`;
    try {
      await relay.start();
      break;
    } catch (e) {
      if (attempt === 3 || !/address already in use/.test(relay.logs)) throw e;
      relay.logs = '';
    }
  }
  await probe(relay);
  return relay;
}

// startFakeOpenAI runs relay/cmd/fakeopenai: the binary FAKEOPENAI names
// (make test-browser builds it once for every file), or one built here.
let fakeBin = process.env.FAKEOPENAI ? path.resolve(process.cwd(), process.env.FAKEOPENAI) : '';
export async function startFakeOpenAI({ scenario = 'normal', text = 'Hello from the fake model.', delay = '20ms', extra = [] } = {}) {
  if (!fakeBin) {
    fakeBin = path.join(tmp('bin-'), 'fakeopenai');
    execFileSync('go', ['build', '-o', fakeBin, './relay/cmd/fakeopenai'], { cwd: repo, stdio: 'inherit' });
  }
  const proc = spawn(fakeBin, ['--addr', '127.0.0.1:0', '--scenario', scenario, '--text', text, '--delay', delay, ...extra],
    { env: cleanEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stderr.on('data', (b) => { out += b; });
  const baseURL = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`fakeopenai did not start: ${out}`)), 10_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(t); resolve(m[1]); }
    });
    proc.once('exit', (c) => reject(new Error(`fakeopenai exited ${c}: ${out}`)));
  });
  const fake = { baseURL, proc, stop: () => stopProc(proc) };
  cleanups.push(fake.stop);
  return fake;
}

// startSite serves customer pages on another origin. Each page is
// {body, head, css, attrs, csp, lang}; the widget tag points at the relay. The
// site logs every request so tests can prove nothing was fetched.
export async function startSite(relay) {
  const pages = new Map();
  const requests = [];
  const srv = http.createServer((req, res) => {
    requests.push(req.url);
    const name = new URL(req.url, 'http://x').pathname.slice(1) || 'index';
    const p = pages.get(name);
    if (name === 'favicon.ico') { res.writeHead(204); res.end(); return; }
    if (!p) { res.writeHead(404, { 'Content-Type': 'text/plain' }); res.end('not found'); return; }
    const headers = { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' };
    if (p.csp) headers['Content-Security-Policy'] = p.csp.replaceAll('WSRELAY', relay.url.replace('http:', 'ws:')).replaceAll('RELAY', relay.url);
    res.writeHead(200, headers);
    res.end(html(p, relay));
  });
  await new Promise((r, j) => { srv.once('error', j); srv.listen(0, '127.0.0.1', r); });
  const { port } = srv.address();
  cleanups.push(() => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }));
  return {
    port, origin: `http://${SITE_HOST}:${port}`, requests,
    add(name, page) { pages.set(name, page); return `http://${SITE_HOST}:${port}/${name}`; },
  };
}

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));
function html(p, relay) {
  const attrs = Object.entries(p.attrs || {}).map(([k, v]) => ` data-${k}="${esc(v)}"`).join('');
  // p.lang: the page's language (null: none given).
  const lang = p.lang === null ? '' : ` lang="${esc(p.lang || 'en')}"`;
  return `<!doctype html><html${lang}><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>
${p.head || ''}${p.css ? `<style>${p.css}</style>` : ''}
<script src="${relay.url}/widget.js" async${attrs}></script>
</head><body>${p.body || '<main><h1>Our shop</h1><p>Fine things.</p></main>'}</body></html>`;
}

// The hostile stylesheet: what a careless or hostile host page does.
export const HOSTILE_CSS = `
* { all: unset !important; }
html, body { display: block !important; font: 40px/1 "Comic Sans MS", cursive !important; color: red !important; }
div, span, button, p, h1 { display: block !important; }
button { width: 1px !important; height: 1px !important; opacity: .01 !important; }
.cover { position: fixed !important; inset: 0 !important; z-index: 999999999 !important; background: rgba(255,0,0,.08) !important; pointer-events: none !important; }
.modal { position: fixed !important; right: 0 !important; bottom: 0 !important; width: 300px !important; height: 120px !important; z-index: 2147482000 !important; background: #ff0 !important; }
svg { display: none !important; }
[role], [aria-label] { visibility: hidden !important; }
`;

// One Chromium per test file (per suite), started on first use and closed
// by stopAll. Each launch() is a new context in it: a fresh profile of its
// own, sharing no storage, cookies, cache or permissions with another, so
// a context is still one visitor's (or agent's) browser. A context costs a
// fraction of a browser: at load 13-38, 2.3 s and 0.47 s of CPU against
// 8.8 s and 1.06 s for a browser of its own (the suite opens about 130;
// the whole suite, two files at a time, used 265 s of CPU instead of 326).
let browser = null;
function sharedBrowser() {
  if (!browser) {
    browser = import('playwright-core').then(({ chromium }) => chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic', `--host-resolver-rules=MAP ${SITE_HOST} 127.0.0.1`],
    }));
    const started = browser;
    cleanups.push(async () => {
      if (browser === started) browser = null;
      await (await started.catch(() => null))?.close();
    });
  }
  return browser;
}

// launch opens a new browser context: its pages are tabs that share
// storage, like a visitor's browser.
export async function launch({ viewport = { width: 1280, height: 800 }, ...opts } = {}) {
  const context = await (await sharedBrowser()).newContext({ viewport, ...opts });
  cleanups.push(() => context.close());
  context.setDefaultTimeout(30_000); // every wait polls; only a failure waits it out
  return context;
}

// screenshot saves a PNG in e2e/screenshots and lists it in the output.
export async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  shots.push(path.relative(path.join(repo, 'e2e'), file));
  return file;
}

// watch records every console error and page error of a page, for failure messages.
export function watch(page) {
  const log = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  return log;
}

// Widget helpers: the UI is in an open shadow root, which locators pierce.
export const W = {
  launcher: (page) => page.locator('kefu-widget button.l'),
  panel: (page) => page.locator('kefu-widget .p'),
  input: (page) => page.locator('kefu-widget textarea'),
  bubbles: (page) => page.locator('kefu-widget .m .g'),
  async open(page) {
    await W.launcher(page).click();
    await W.panel(page).waitFor({ state: 'visible' });
  },
  async send(page, text) {
    await W.input(page).fill(text);
    await W.input(page).press('Enter');
  },
  // texts returns what every message bubble shows, in order.
  texts: (page) => page.locator('kefu-widget .m .g .t').allTextContents(),
  // stored returns the messages the relay stored, as shown (with their seq).
  stored: (page) => page.evaluate(() => [...document.querySelector('kefu-widget').shadowRoot.querySelectorAll('.ms .g')]
    .map((g) => ({ seq: +g.dataset.seq, id: g.dataset.id || '', cls: g.className, text: g.querySelector('.t').textContent, meta: g.querySelector('.me').textContent }))),
  waitMark: (page, name, timeout = 30_000) => page.waitForFunction((n) => performance.getEntriesByName(n).length > 0, `kefu:${name}`, { timeout }),
};

// relayMessages reads the conversation straight from the relay over a
// fresh WebSocket opened in the page (with the widget's stored token), so
// a test sees what is stored, not what the widget shows.
export async function relayMessages(page, relay) {
  return page.evaluate(async (wsURL) => {
    const key = Object.keys(localStorage).find((k) => k.endsWith(':session'));
    const { token } = JSON.parse(localStorage.getItem(key));
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(wsURL);
      const msgs = [];
      let upTo = -1;
      const t = setTimeout(() => reject(new Error('relay read timed out')), 30_000);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token, last_seq: 0 }));
      ws.onmessage = (e) => {
        const f = JSON.parse(e.data);
        if (f.type === 'welcome') upTo = f.seq;
        if (f.type === 'message') msgs.push(f);
        if (upTo >= 0 && (upTo === 0 || (msgs.length && msgs[msgs.length - 1].seq >= upTo))) { clearTimeout(t); ws.close(); resolve(msgs); }
      };
      ws.onerror = () => reject(new Error('relay socket failed'));
    });
  }, relay.url.replace('http:', 'ws:') + '/v1/ws');
}
