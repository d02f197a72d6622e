// CPU per request of the edge build under wrangler dev, as ratios against
// a Go hello-world on syumai/workers and a JS hello-world measured in the
// same run (make bench-edge; docs/edge.md, CPU per request).
//
// CPU is workerd's: the run time of every thread of the workerd processes
// wrangler starts (/proc/PID/task/TID/schedstat, nanoseconds), read before
// and after N requests sent one at a time, divided by N. That holds the
// Worker's isolate and also wrangler's proxy worker and the local D1's
// SQLite, work Cloudflare does outside the Worker (the JS hello-world shows
// the proxy's share). V8's own profiler, through wrangler's inspector, was
// tried: it samples wall time, so on a loaded machine it counts the time a
// thread waits for a core, and it read several times higher than this.
// Each worker runs in its own wrangler dev; the rounds visit them in turn,
// so the two sides of a ratio ran seconds apart. Figures are medians of
// the rounds.
//
//   node bench/cpu.js [--rounds 5] [--n 40] [--kefu name=dir[@mode]]...
//
// --kefu adds a build of the edge (a directory like edge/build) under a
// name, run with KEFU_EDGE_INSTANCES=mode when given (request, reuse);
// the default is edge/build as "kefu" and "kefu-reuse". Several compare
// builds.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { edgeDir, repoDir, freePort, tmpDir, start, run, waitFor, readEvents, killAll } = require('../test/lib');

const wrangler = path.join(edgeDir, 'node_modules', '.bin', 'wrangler');
const quiet = { WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'warn', NO_UPDATE_NOTIFIER: '1', CI: 'true' };

function args() {
  const a = { rounds: 5, n: 40, kefu: [] };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (k === '--rounds') a.rounds = Number(v);
    else if (k === '--n') a.n = Number(v);
    else if (k === '--kefu') {
      const [name, spec] = v.split('=');
      const [dir, mode] = (spec || '').split('@');
      if (!name || !dir) throw new Error(`--kefu wants name=dir[@mode], got ${v}`);
      if (mode && mode !== 'request' && mode !== 'reuse') throw new Error(`--kefu ${v}: mode is request or reuse`);
      a.kefu.push({ name, dir: path.resolve(dir), mode });
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.kefu.length) {
    a.kefu.push({ name: 'kefu', dir: path.join(edgeDir, 'build'), mode: 'request' });
    a.kefu.push({ name: 'kefu-reuse', dir: path.join(edgeDir, 'build'), mode: 'reuse' });
  }
  if (!(a.rounds > 0 && a.n > 0)) throw new Error('--rounds and --n must be positive');
  return a;
}

// cpuNs is the run time so far of every thread of the workerd processes in
// process group pgid.
function cpuNs(pgid) {
  let total = 0n;
  let found = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid || !comm.startsWith('workerd')) continue;
    found++;
    let tasks = [];
    try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    for (const tid of tasks) {
      try { total += BigInt(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* thread gone */ }
    }
  }
  if (!found) throw new Error(`no workerd process in group ${pgid}`);
  return total;
}

// config writes a wrangler.jsonc for a worker whose entry is main.
function config(dir, name, main, extra = {}) {
  const file = path.join(dir, 'wrangler.jsonc');
  fs.writeFileSync(file, JSON.stringify({ name, main, compatibility_date: '2026-04-01', ...extra }, null, 2));
  return file;
}

async function startWorker(w, logs) {
  const port = await freePort();
  const inspector = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = path.join(logs, `${w.name}.log`);
  const dev = start(wrangler, [
    'dev', '--config', w.config, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--local',
    '--persist-to', w.state, '--show-interactive-dev-session=false', '--live-reload=false', ...(w.vars || []),
  ], { env: quiet, logFile: log });
  await waitFor(`wrangler dev for ${w.name} (log: ${log})`, 120_000, async () => (await fetch(base + w.probe)).ok);
  return { ...w, base, dev, pgid: dev.child.pid };
}

const json = (body, token) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...(token ? { Authorization: 'Bearer ' + token } : {}) },
  body: JSON.stringify(body),
});

// kinds are the requests measured on a worker: each a function sending one.
function kefuKinds(base) {
  let conv;
  let n = 0;
  const newConv = async () => {
    const w = await (await fetch(base + '/v1/conversations', { method: 'POST' })).json();
    if (!w.token) throw new Error('no conversation: ' + JSON.stringify(w));
    conv = w;
  };
  const send = async (text, want) => {
    // A fresh conversation now and then keeps them short, like real ones.
    if (!conv || n % 20 === 0) await newConv();
    n++;
    const ev = await readEvents(await fetch(`${base}/v1/conversations/${conv.conversation_id}/messages`, json({ id: `b${n}`, text }, conv.token)));
    if (!ev.some((e) => e.event === want)) throw new Error(`${text}: no ${want} event in ${JSON.stringify(ev)}`);
  };
  const get = (p) => async () => {
    const res = await fetch(base + p);
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${p}: ${res.status}`);
  };
  return {
    'GET /healthz': get('/healthz'),
    'GET /widget.js': get('/widget.js'),
    'GET /v1/widget/config': get('/v1/widget/config'),
    'POST /v1/classify': async () => {
      const res = await fetch(base + '/v1/classify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"text":"how long does shipping take?"}' });
      const r = await res.json();
      if (r.intent !== 'shipping') throw new Error('classify: ' + JSON.stringify(r));
    },
    'FAQ message': () => send('how long does shipping take?', 'message'),
    'AI message': () => send('tell me something about your oldest product', 'delta'),
  };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

async function main() {
  const a = args();
  const work = tmpDir('kefu-edge-bench-');
  const logs = process.env.EDGE_BENCH_LOGS || work;
  fs.mkdirSync(logs, { recursive: true });
  try {
    // The baselines: a JS hello-world, and syumai/workers' smallest Go Worker.
    const js = path.join(work, 'js');
    fs.mkdirSync(js);
    fs.writeFileSync(path.join(js, 'worker.mjs'), "export default { fetch() { return new Response('hello\\n'); } };\n");
    const gohello = path.join(work, 'gohello');
    await run('go', ['run', 'github.com/syumai/workers/cmd/workers-assets-gen', '-mode=go', '-o', gohello], { cwd: repoDir });
    await run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', path.join(gohello, 'app.wasm'), './edge/bench/hello'], { cwd: repoDir, env: { GOOS: 'js', GOARCH: 'wasm' }, ms: 600_000 });

    const fakeBin = process.env.FAKEOPENAI ? path.resolve(process.env.FAKEOPENAI) : path.join(work, 'fakeopenai');
    if (!process.env.FAKEOPENAI) await run('go', ['build', '-o', fakeBin, './relay/cmd/fakeopenai'], { cwd: repoDir, ms: 600_000 });
    const fakePort = await freePort();
    start(fakeBin, ['--addr', `127.0.0.1:${fakePort}`, '--text', 'A short answer from the fake upstream, in a few tokens.', '--delay', '1ms'], { logFile: path.join(logs, 'fakeopenai.log') });
    const fakeURL = `http://127.0.0.1:${fakePort}/v1`;
    await waitFor('the fake upstream', 15_000, async () => (await fetch(fakeURL + '/models')).ok);

    // A JS Worker reading one D1 row per request, the kind of statement a
    // kept instance's settings-version check is: what one D1 statement
    // costs workerd under wrangler dev, where the local D1 runs in its
    // threads (on Cloudflare it runs outside the Worker).
    fs.writeFileSync(path.join(js, 'd1.mjs'), "export default { async fetch(req, env) { const r = await env.DB.prepare('SELECT version FROM settings_version WHERE id = 1').first(); return new Response(String(r.version)); } };\n");
    const d1cfg = config(js, 'js-d1', path.join(js, 'd1.mjs'), {
      d1_databases: [{ binding: 'DB', database_name: 'kefu', database_id: '00000000-0000-0000-0000-000000000000', migrations_dir: path.join(repoDir, 'relay/internal/store/d1/migrations') }],
    });
    fs.renameSync(d1cfg, path.join(js, 'd1.jsonc'));
    const d1state = path.join(work, 'd1-state');
    await run(wrangler, ['d1', 'migrations', 'apply', 'kefu', '--local', '--config', path.join(js, 'd1.jsonc'), '--persist-to', d1state], { env: quiet, ms: 120_000 });

    const defs = [
      { name: 'js-hello', config: config(js, 'js-hello', path.join(js, 'worker.mjs')), state: path.join(work, 'js-state'), probe: '/', kinds: (b) => ({ 'GET /': async () => { await (await fetch(b + '/')).text(); } }) },
      { name: 'js-d1', config: path.join(js, 'd1.jsonc'), state: d1state, probe: '/', kinds: (b) => ({ 'GET / (one D1 row)': async () => { await (await fetch(b + '/')).text(); } }) },
      { name: 'go-hello', config: config(gohello, 'go-hello', path.join(gohello, 'worker.mjs')), state: path.join(work, 'go-state'), probe: '/', kinds: (b) => ({ 'GET /': async () => { await (await fetch(b + '/')).text(); } }) },
    ];
    for (const k of a.kefu) {
      if (!fs.existsSync(path.join(k.dir, 'app.wasm'))) throw new Error(`${k.dir}/app.wasm missing: run make edge`);
      const dir = path.join(work, k.name);
      fs.mkdirSync(dir);
      const cfg = config(dir, k.name, path.join(k.dir, 'worker.mjs'), {
        assets: { directory: path.join(k.dir, 'static') },
        d1_databases: [{ binding: 'DB', database_name: 'kefu', database_id: '00000000-0000-0000-0000-000000000000', migrations_dir: path.join(repoDir, 'relay/internal/store/d1/migrations') }],
        vars: { KEFU_ALLOWED_ORIGINS: '*', KEFU_LOG_LEVEL: 'warn', ...(k.mode ? { KEFU_EDGE_INSTANCES: k.mode } : {}) },
      });
      const state = path.join(work, `${k.name}-state`);
      await run(wrangler, ['d1', 'migrations', 'apply', 'kefu', '--local', '--config', cfg, '--persist-to', state], { env: quiet, ms: 120_000 });
      defs.push({ name: k.name, config: cfg, state, probe: '/healthz', kinds: kefuKinds, vars: ['--var', `OPENAI_BASE_URL:${fakeURL}`, '--var', 'OPENAI_API_KEY:sk-bench'] });
    }

    const workers = [];
    for (const d of defs) workers.push(await startWorker(d, logs));
    for (const w of workers) w.k = w.kinds(w.base);

    // Warm up: the first requests compile the module and fill caches.
    for (const w of workers) for (const f of Object.values(w.k)) for (let i = 0; i < 3; i++) await f();

    const ms = {}; // "worker\tkind" -> [ms per request, one per round]
    for (let r = 0; r < a.rounds; r++) {
      for (const w of workers) {
        for (const [kind, f] of Object.entries(w.k)) {
          const c0 = cpuNs(w.pgid);
          for (let i = 0; i < a.n; i++) await f();
          const per = Number(cpuNs(w.pgid) - c0) / 1e6 / a.n;
          (ms[`${w.name}\t${kind}`] ??= []).push(per);
        }
      }
      process.stderr.write(`round ${r + 1}/${a.rounds} done\n`);
    }

    const med = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
    const out = [];
    out.push(`CPU per request under wrangler dev: workerd's threads, median of ${a.rounds} rounds of ${a.n} sequential requests each (ms; min–max of the rounds in brackets)`);
    out.push('');
    out.push('| worker | request | CPU ms / request | × Go hello-world | × JS hello-world |');
    out.push('|---|---|---|---|---|');
    const go0 = med['go-hello\tGET /'];
    const js0 = med['js-hello\tGET /'];
    for (const [k, v] of Object.entries(ms)) {
      const [name, kind] = k.split('\t');
      out.push(`| ${name} | ${kind} | ${med[k].toFixed(2)} (${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}) | ${(med[k] / go0).toFixed(2)} | ${(med[k] / js0).toFixed(1)} |`);
    }
    console.log(out.join('\n'));
  } finally {
    killAll();
    if (!process.env.EDGE_BENCH_LOGS) fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); killAll(); process.exit(1); });
