// Times kefuWasm.loadModel, the way the widget calls it, in Node or in
// headless Chromium: instantiate kefu.wasm (not timed), then loadModel on
// the model's bytes, the first call (cold: a fresh Go heap) and RUNS more
// (warm), then one classify. Prints one JSON object.
//
//   node modelload.mjs node WASM WASM_EXEC MODEL [RUNS]
//   node modelload.mjs chromium WASM WASM_EXEC MODEL [RUNS] [CHROMIUM]
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [where, wasmPath, execPath, modelPath, runsArg, chromiumPath] = process.argv.slice(2);
if (!modelPath || !['node', 'chromium'].includes(where)) {
  console.error('usage: node modelload.mjs node|chromium WASM WASM_EXEC MODEL [RUNS] [CHROMIUM]');
  process.exit(2);
}
const runs = Number(runsArg || 10);

// measure runs in the page or in Node alike: it gets Go, the wasm bytes
// and the model bytes, and returns the timings.
async function measure(GoCtor, wasmBytes, modelBytes, runs, now) {
  const ready = new Promise((resolve) => { globalThis.__kefuWasmReady = resolve; });
  const go = new GoCtor();
  const { instance } = await WebAssembly.instantiate(wasmBytes, go.importObject);
  go.run(instance);
  const kefu = await ready;
  const times = [];
  let intents = 0;
  for (let i = 0; i <= runs; i++) {
    const t = now();
    const r = kefu.loadModel(new Uint8Array(modelBytes));
    times.push(now() - t);
    if (!r.ok) throw new Error('loadModel: ' + r.error);
    intents = r.intents.length;
  }
  const t = now();
  kefu.classify('how long does shipping take');
  const classifyMs = now() - t;
  return { intents, first_ms: times[0], warm_ms: times.slice(1), classify_ms: classifyMs };
}

let out;
if (where === 'node') {
  await import(pathToFileURL(execPath).href); // defines globalThis.Go
  out = await measure(globalThis.Go, readFileSync(wasmPath), readFileSync(modelPath), runs, () => performance.now());
} else {
  const { chromium } = await import('playwright-core');
  const files = { '/wasm_exec.js': readFileSync(execPath), '/kefu.wasm': readFileSync(wasmPath), '/model.bin': readFileSync(modelPath) };
  const types = { '/wasm_exec.js': 'text/javascript', '/kefu.wasm': 'application/wasm', '/model.bin': 'application/octet-stream' };
  const server = createServer((req, res) => {
    const body = files[req.url];
    if (!body) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': types[req.url] }).end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const profile = mkdtempSync(join(tmpdir(), 'kefu-modelload-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(base + '/wasm_exec.js');
    await page.setContent('<!doctype html><title>modelload</title>');
    await page.addScriptTag({ url: base + '/wasm_exec.js' });
    out = await page.evaluate(async ({ base, runs, fn }) => {
      const measure = new Function('return ' + fn)();
      const [w, m] = await Promise.all([fetch(base + '/kefu.wasm'), fetch(base + '/model.bin')].map((p) => p.then((r) => r.arrayBuffer())));
      return measure(globalThis.Go, w, m, runs, () => performance.now());
    }, { base, runs, fn: measure.toString() });
    out.browser = browser.browser()?.version() || 'chromium';
  } finally {
    await browser.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
out.where = where;
out.model_bytes = readFileSync(modelPath).length;
console.log(JSON.stringify(out));
process.exit(0);
