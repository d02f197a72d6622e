// Helpers for the edge test: start the fake upstream and wrangler dev as
// process groups, wait for them with deadlines, stop them all on exit,
// and read server-sent events.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const edgeDir = path.resolve(__dirname, '..');
const repoDir = path.resolve(edgeDir, '..');

// Every process group started here, killed on exit whatever happens.
const groups = new Set();
function killAll() {
  for (const pid of groups) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  groups.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130); });

// freePort asks the kernel for a port that is free now.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

// start runs cmd in its own process group, its output to logFile.
function start(cmd, args, { cwd = edgeDir, env = {}, logFile } = {}) {
  const log = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd, detached: true, stdio: ['ignore', log, log],
    env: { ...process.env, ...env },
  });
  fs.closeSync(log);
  groups.add(child.pid);
  child.on('exit', () => groups.delete(child.pid));
  return {
    child,
    // stop ends the whole group: wrangler runs workerd under it.
    async stop() {
      if (!groups.has(child.pid)) return;
      try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
      const gone = new Promise((r) => child.once('exit', r));
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await gone;
      clearTimeout(t);
      groups.delete(child.pid);
    },
  };
}

// run runs cmd to completion within ms, or fails with its output.
function run(cmd, args, { cwd = edgeDir, env = {}, ms = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, detached: true, env: { ...process.env, ...env } });
    groups.add(child.pid);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
    child.on('exit', (code, sig) => {
      clearTimeout(t);
      groups.delete(child.pid);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${sig ? 'killed by ' + sig : 'exit ' + code}\n${out}`));
    });
  });
}

// waitFor polls until check resolves truthy, or fails after ms.
async function waitFor(what, ms, check) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ': ' + last.message : ''}`);
}

// readEvents reads a text/event-stream response to its end (within ms):
// [{event, id, data}], data parsed as JSON.
async function readEvents(res, ms = 30_000) {
  const ct = res.headers.get('content-type') || '';
  if (!ct.startsWith('text/event-stream')) throw new Error(`not an event stream: ${res.status} ${ct} ${await res.text()}`);
  const timer = setTimeout(() => res.body.cancel().catch(() => {}), ms);
  const text = await res.text();
  clearTimeout(timer);
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const ev = { event: 'message', id: undefined, data: undefined };
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) ev.event = line.slice(6).trim();
      else if (line.startsWith('id:')) ev.id = line.slice(3).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) { ev.data = JSON.parse(data.join('\n')); events.push(ev); }
  }
  return events;
}

// findBrowser finds Chromium (Debian's, or KEFU_CHROMIUM) and playwright-core
// (installed for the browser tests in e2e/): {chromium, path} or {missing}.
function findBrowser() {
  const exe = process.env.KEFU_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) return { missing: `Chromium not found at ${exe} (install Debian's chromium or set KEFU_CHROMIUM)` };
  try {
    const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(repoDir, 'e2e')] }));
    return { chromium, path: exe };
  } catch {
    return { missing: 'playwright-core not installed in e2e/ (cd e2e && npm ci; make test-browser does)' };
  }
}

// startSite serves a customer page on its own origin whose script tag
// points at the edge.
async function startSite(edgeURL) {
  const http = require('node:http');
  const port = await freePort();
  const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="${edgeURL}/widget.js" async></script></head><body><main><h1>Our shop</h1></main></body></html>`;
  const srv = http.createServer((req, res) => {
    if (req.url !== '/') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(page);
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return {
    // localhost: another origin than the edge's 127.0.0.1.
    url: `http://localhost:${port}/`,
    close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(r); }),
  };
}

module.exports = { edgeDir, repoDir, freePort, tmpDir, start, run, waitFor, readEvents, killAll, findBrowser, startSite };
