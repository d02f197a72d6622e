// Times kefuWasm.classify in Node, the way the widget calls it: load Go's
// wasm_exec.js, instantiate kefu.wasm, loadModel(bytes), then one classify
// per query, each timed with performance.now(). Prints one JSON object.
//
//   node classify.mjs WASM WASM_EXEC MODEL QUERIES.json [WARMUP]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const [wasmPath, execPath, modelPath, queriesPath, warmArg] = process.argv.slice(2);
if (!queriesPath) {
  console.error('usage: node classify.mjs WASM WASM_EXEC MODEL QUERIES.json [WARMUP]');
  process.exit(2);
}
const warmup = Number(warmArg || 200);

await import(pathToFileURL(execPath).href); // defines globalThis.Go
const t0 = performance.now();
const ready = new Promise((resolve) => { globalThis.__kefuWasmReady = resolve; });
const go = new globalThis.Go();
const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), go.importObject);
go.run(instance); // never resolves: the Go program stays up for its callbacks
const kefu = await ready;
const loaded = kefu.loadModel(new Uint8Array(readFileSync(modelPath)));
if (!loaded.ok) {
  console.error('loadModel failed:', loaded.error);
  process.exit(1);
}
const startupMs = performance.now() - t0;

const queries = JSON.parse(readFileSync(queriesPath, 'utf8')); // [[text, intent], ...]
for (let i = 0; i < Math.min(warmup, queries.length); i++) kefu.classify(queries[i][0]);
const times = [];
let right = 0;
for (const [text, intent] of queries) {
  const t = performance.now();
  const r = kefu.classify(text);
  times.push((performance.now() - t) * 1000);
  if (r.matched && r.intent === intent) right++;
}
console.log(JSON.stringify({ intents: loaded.intents.length, startup_ms: startupMs, times_us: times, right }));
process.exit(0);
