// The soak test of Go instances kept across requests (KEFU_EDGE_INSTANCES=
// reuse; docs/edge.md, One Go instance per isolate): many requests of every
// kind, several at once, against one wrangler dev, each checked for state
// of another request: a visitor's messages in another's conversation, a
// token accepted for the wrong conversation, an answer to another
// question, another request's CORS origin, a model or answers out of date
// after the intents changed, an instance still answering after a panic.
//
// soak(base, opts) runs against a Worker already up (the edge test runs a
// short one); as a command it starts its own (make soak-edge):
//
//   node test/soak.js [--n 10000] [--concurrency 8] [--build dir]
//                     [--mode reuse|request] [--without crash,panic,…]
//
// The build must carry the test routes (EDGE_TEST_HOOKS=1 ./edge/build.sh).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { edgeDir, repoDir, freePort, tmpDir, start, run, waitFor, readEvents, killAll } = require('./lib');

const AI_TEXT = 'Soak answers come from the fake upstream.';

// Phases of the intents, each imported as an operator would (through
// kefu-edge-intents and wrangler d1 execute) with nothing in flight; the
// second halfway through.
const PHASES = [
  {
    intents: [
      { name: 'shipping', examples: ['how long does shipping take', 'when will my order arrive', 'delivery time'], answer: 'Two to four days.' },
      { name: 'returns', examples: ['what is your return policy', 'can I return an item', 'how do returns work'], answer: 'Thirty days, free.' },
      { name: 'human', examples: ['talk to a person'], action: 'handoff' },
    ],
    faq: [['how long does shipping take?', 'shipping'], ['what is your return policy?', 'returns']],
  },
  {
    intents: [
      { name: 'gift_cards', examples: ['do you sell gift cards', 'can I buy a gift voucher', 'gift card for a friend'], answer: 'Gift cards from 10 euros, by email.' },
      { name: 'opening', examples: ['when are you open', 'opening hours', 'are you open on sunday'], answer: 'Monday to Saturday, 9 to 18.' },
      { name: 'human', examples: ['talk to a person'], action: 'handoff' },
    ],
    faq: [['do you sell gift cards?', 'gift_cards'], ['when are you open on sunday?', 'opening']],
  },
];

// A small seeded generator: the same run each time for the same seed.
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const post = (body, token, accept = 'application/json', headers = {}) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', Accept: accept, ...(token ? { Authorization: 'Bearer ' + token } : {}), ...headers },
  body: JSON.stringify(body),
});

// soak sends opts.n requests to base, opts.concurrency at a time, and
// returns {counts, failures, instances}; aiText is what the fake upstream
// answers. phases (default PHASES) split the run: each phase's intents, if
// any, are imported first, and its FAQ questions asked; changeIntents(intents) imports
// intents into the Worker's D1 (between phases, with nothing in flight).
async function soak(base, { n = 10000, concurrency = 8, seed = 17, visitors = 16, aiText = AI_TEXT, without = [], phases = PHASES, changeIntents, log = () => {} } = {}) {
  const rand = rng(seed);
  let sent = 0;
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const counts = {};
  const failures = [];
  const instances = new Map(); // id -> most requests served seen
  let failed = 0;
  const fail = (kind, msg) => {
    failed++;
    if (failures.length < 50) failures.push(`${kind}: ${msg}`);
    log(`failure ${failed} at request ${sent}: ${kind}: ${msg}`);
  };

  const widget = await (await fetch(base + '/widget.js')).text();
  // Visitors, each with a conversation and the ids of what they sent.
  const vs = [];
  for (let i = 0; i < visitors; i++) {
    const w = await (await fetch(base + '/v1/conversations', post({}, undefined, 'application/json', { 'Accept-Language': i % 2 ? 'de' : 'en' }))).json();
    if (!w.token) throw new Error('no conversation: ' + JSON.stringify(w));
    vs.push({ i, token: w.token, id: w.conversation_id, sent: 0, busy: false, prefix: `v${i}-` });
  }
  let phase;
  let modelHash;

  const kinds = [
    [12, 'healthz', async () => {
      const res = await fetch(base + '/healthz');
      const t = await res.text();
      if (res.status !== 200) fail('healthz', `${res.status} ${t}`);
    }],
    [8, 'widget.js', async () => {
      const res = await fetch(base + '/widget.js');
      if ((await res.text()) !== widget) fail('widget.js', 'a different body');
    }],
    [10, 'config', async () => {
      const origin = `https://shop${Math.floor(rand() * 1000)}.example`;
      const res = await fetch(base + '/v1/widget/config', { headers: { Origin: origin } });
      const acao = res.headers.get('access-control-allow-origin');
      const cfg = await res.json();
      if (acao !== origin && acao !== '*') fail('config', `Access-Control-Allow-Origin ${acao} for ${origin}`);
      if (cfg.model?.hash !== modelHash) fail('config', `model ${cfg.model?.hash}, want ${modelHash}`);
    }],
    [10, 'classify', async () => {
      const [text, want] = pick(phase.faq);
      const r = await (await fetch(base + '/v1/classify', post({ text }))).json();
      if (r.intent !== want) fail('classify', `${text}: ${r.intent}, want ${want}`);
    }],
    [30, 'FAQ message', async () => {
      const v = vs.find((x) => !x.busy && rand() < 0.5) ?? vs.find((x) => !x.busy);
      if (!v) return false;
      v.busy = true;
      try {
        const [text, want] = pick(phase.faq);
        const id = `${v.prefix}${++v.sent}`;
        const ev = await readEvents(await fetch(`${base}/v1/conversations/${v.id}/messages`, post({ id, text }, v.token, 'text/event-stream')));
        const ack = ev.find((e) => e.event === 'ack');
        const ans = ev.find((e) => e.event === 'message' && e.data.from === 'bot');
        if (ack?.data.id !== id) fail('FAQ message', `ack ${JSON.stringify(ack?.data)} for ${id}`);
        if (ans?.data.intent !== want) fail('FAQ message', `${text}: answered ${JSON.stringify(ans?.data)}, want ${want}`);
        if (ans && ans.data.id !== `${id}#answer`) fail('FAQ message', `answer id ${ans.data.id} for ${id}`);
      } finally { v.busy = false; }
    }],
    [3, 'AI message', async () => {
      // A conversation of its own: the AI's answer caps (per conversation,
      // per visitor and hour) would hand a long one off.
      const w = await (await fetch(base + '/v1/conversations', post({}))).json();
      const id = `ai-${w.conversation_id}`;
      const ev = await readEvents(await fetch(`${base}/v1/conversations/${w.conversation_id}/messages`, post({ id, text: `tell me a story about ${id}` }, w.token, 'text/event-stream')));
      const stored = ev.find((e) => e.event === 'message' && e.data.via === 'ai');
      if (ev[0]?.data.id !== id) fail('AI message', `ack ${JSON.stringify(ev[0]?.data)} for ${id}`);
      if (stored?.data.text !== aiText) fail('AI message', `stored ${JSON.stringify(stored?.data)}, events ${ev.map((e) => e.event).join(' ')}`);
    }],
    [8, 'history', async () => {
      const v = pick(vs);
      const res = await fetch(`${base}/v1/conversations/${v.id}/messages?after=0`, { headers: { Authorization: 'Bearer ' + v.token } });
      const page = await res.json();
      if (res.status !== 200) return fail('history', `${res.status} ${JSON.stringify(page)}`);
      page.messages.forEach((m, k) => {
        if (m.seq !== k + 1) fail('history', `${v.id}: seq ${m.seq} at ${k + 1}`);
        if (m.id && !m.id.startsWith(v.prefix)) fail('history', `${v.id} holds ${m.id}, another visitor's`);
      });
    }],
    [5, 'wrong token', async () => {
      const a = pick(vs);
      const b = vs[(a.i + 1) % vs.length];
      const res = await fetch(`${base}/v1/conversations/${a.id}/messages?after=0`, { headers: { Authorization: 'Bearer ' + b.token } });
      const t = await res.text();
      if (res.status === 200) fail('wrong token', `${b.prefix} read ${a.id}: ${t.slice(0, 200)}`);
    }],
    [5, 'instance', async () => {
      const r = await (await fetch(base + '/__kefu_test/instance')).json();
      const seen = instances.get(r.instance) ?? { served: 0, goroutines: 0 };
      instances.set(r.instance, { served: Math.max(seen.served, r.served), goroutines: Math.max(seen.goroutines, r.goroutines) });
    }],
    [1, 'panic', async () => {
      const res = await fetch(base + '/__kefu_test/panic', { method: 'POST' });
      await res.text();
      if (res.status !== 500) fail('panic', `status ${res.status}`);
    }],
    [0.3, 'crash', async () => {
      const res = await fetch(base + '/__kefu_test/crash', { method: 'POST' });
      await res.text();
      if (res.status !== 500) fail('crash', `status ${res.status}`);
    }],
  ];
  for (const k of kinds) if (without.includes(k[1])) k[0] = 0;
  const total = kinds.reduce((a, k) => a + k[0], 0);
  const choose = () => {
    let x = rand() * total;
    for (const k of kinds) { if ((x -= k[0]) < 0) return k; }
    return kinds[0];
  };

  const worker = async (limit) => {
    while (sent < limit) {
      const [, kind, f] = choose();
      sent++;
      try {
        if ((await f()) === false) { sent--; continue; }
        counts[kind] = (counts[kind] ?? 0) + 1;
      } catch (e) { fail(kind, e.message); }
      if (sent % 1000 === 0) log(`${sent}/${n} requests, ${failed} failures`);
    }
  };
  for (let p = 0; p < phases.length; p++) {
    phase = phases[p];
    const before = (await (await fetch(base + '/v1/widget/config')).json()).model?.hash;
    modelHash = before;
    if (phase.intents) {
      await changeIntents(phase.intents);
      // The very next request sees the import: instances kept across
      // requests notice the settings' version moved.
      modelHash = (await (await fetch(base + '/v1/widget/config')).json()).model?.hash;
      if (modelHash === before) fail('config', `the model hash stayed ${before} after an import`);
    }
    const limit = Math.round((n * (p + 1)) / phases.length);
    await Promise.all(Array.from({ length: concurrency }, () => worker(limit)));
  }
  return { counts, failures, failed, instances, sent };
}

// importIntents is changeIntents for a local D1: the operator's path.
function importIntents(state, configArgs, env) {
  return async (intents) => {
    const file = path.join(state, 'soak-intents.json');
    fs.writeFileSync(file, JSON.stringify({ intents }));
    const sql = await run('go', ['run', './relay/cmd/kefu-edge-intents', file], { cwd: repoDir, ms: 300_000 });
    fs.writeFileSync(path.join(state, 'soak-intents.sql'), sql);
    await run(path.join(edgeDir, 'node_modules', '.bin', 'wrangler'), ['d1', 'execute', 'kefu', '--local', ...configArgs, '--persist-to', state, '--file', path.join(state, 'soak-intents.sql')], { env, ms: 120_000 });
  };
}

async function main() {
  const a = { n: 10000, concurrency: 8, build: path.join(edgeDir, 'build'), mode: 'reuse', without: '' };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '');
    if (!(k in a)) throw new Error(`unknown argument ${argv[i]}`);
    a[k] = typeof a[k] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  const build = path.resolve(a.build);
  const work = tmpDir('kefu-edge-soak-');
  const quiet = { WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'warn', NO_UPDATE_NOTIFIER: '1', CI: 'true' };
  // workerd's own warnings (a promise resolved from another request's
  // context) are at log level.
  const devEnv = { ...quiet, WRANGLER_LOG: 'log' };
  try {
    const fakeBin = process.env.FAKEOPENAI ? path.resolve(process.env.FAKEOPENAI) : path.join(work, 'fakeopenai');
    if (!process.env.FAKEOPENAI) await run('go', ['build', '-o', fakeBin, './relay/cmd/fakeopenai'], { cwd: repoDir, ms: 600_000 });
    const fakePort = await freePort();
    start(fakeBin, ['--addr', `127.0.0.1:${fakePort}`, '--text', AI_TEXT, '--delay', '1ms'], { logFile: path.join(work, 'fakeopenai.log') });
    const fakeURL = `http://127.0.0.1:${fakePort}/v1`;
    await waitFor('the fake upstream', 15_000, async () => (await fetch(fakeURL + '/models')).ok);
    const cfg = path.join(work, 'wrangler.jsonc');
    fs.writeFileSync(cfg, JSON.stringify({
      name: 'kefu-soak', main: path.join(build, 'worker.mjs'), compatibility_date: '2026-04-01',
      assets: { directory: path.join(build, 'static') },
      d1_databases: [{ binding: 'DB', database_name: 'kefu', database_id: '00000000-0000-0000-0000-000000000000', migrations_dir: path.join(repoDir, 'relay/internal/store/d1/migrations') }],
      vars: { KEFU_ALLOWED_ORIGINS: '*', KEFU_LOG_LEVEL: 'warn', KEFU_EDGE_INSTANCES: a.mode },
    }));
    const state = path.join(work, 'state');
    const wrangler = path.join(edgeDir, 'node_modules', '.bin', 'wrangler');
    await run(wrangler, ['d1', 'migrations', 'apply', 'kefu', '--local', '--config', cfg, '--persist-to', state], { env: quiet, ms: 120_000 });
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const log = path.join(work, 'wrangler-dev.log');
    start(wrangler, ['dev', '--config', cfg, '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()), '--local',
      '--persist-to', state, '--show-interactive-dev-session=false', '--live-reload=false',
      '--var', `OPENAI_BASE_URL:${fakeURL}`, '--var', 'OPENAI_API_KEY:sk-soak'], { env: devEnv, logFile: log });
    await waitFor(`wrangler dev (log: ${log})`, 120_000, async () => (await fetch(base + '/healthz')).ok);
    const t0 = Date.now();
    const r = await soak(base, { n: a.n, concurrency: a.concurrency, without: a.without.split(','), changeIntents: importIntents(state, ['--config', cfg], quiet), log: (m) => process.stderr.write(m + '\n') });
    const served = [...r.instances.values()].map((x) => x.served);
    const goroutines = [...r.instances.values()].map((x) => x.goroutines);
    console.log(`soak (${a.mode}): ${r.sent} requests, ${a.concurrency} at a time, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    console.log(`by kind: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`Go instances seen by /__kefu_test/instance: ${served.length}; most requests served by one: ${Math.max(0, ...served)}; most goroutines in one, between requests: ${Math.max(0, ...goroutines)}`);
    console.log(r.failures.length ? `FAILURES (${r.failed}, first 50):\n  ${r.failures.join('\n  ')}` : 'no failures');
    if (r.failures.length) process.exitCode = 1;
  } finally {
    killAll();
    if (!process.exitCode) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`logs kept in ${work}`);
  }
}

module.exports = { soak, importIntents, AI_TEXT };
if (require.main === module) main().catch((e) => { console.error(e); killAll(); process.exit(1); });
