// The edge build, for real and offline: wrangler dev runs edge/build in
// workerd with a local D1 database; the fake OpenAI upstream answers. No
// relay runs. Started by make test-edge (docs/edge.md).
'use strict';

const { describe, before, after, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { edgeDir, repoDir, freePort, tmpDir, start, run, waitFor, readEvents, findBrowser, startSite } = require('./lib');
const { soak } = require('./soak');

const AI_TEXT = 'Edge answers stream from the fake upstream, token by token.';
const wrangler = path.join(edgeDir, 'node_modules', '.bin', 'wrangler');
// No telemetry, no update checks: the test runs offline.
const quiet = { WRANGLER_SEND_METRICS: 'false', WRANGLER_LOG: 'info', NO_UPDATE_NOTIFIER: '1', CI: process.env.CI || 'true' };
// How the Worker runs its Go program (edge/glue/worker.mjs): EDGE_INSTANCES
// picks "request" (an instance per request) or "reuse"; wrangler.jsonc's
// default when unset.
const MODE = process.env.EDGE_INSTANCES;

describe('edge build under wrangler dev', { timeout: 240_000 }, () => {
  let base, fake, dev, state, logs;

  before(async () => {
    assert.ok(fs.existsSync(path.join(edgeDir, 'build', 'app.wasm')), 'edge/build/app.wasm missing: run make edge');
    state = tmpDir('kefu-edge-');
    logs = process.env.EDGE_TEST_LOGS || state;
    fs.mkdirSync(logs, { recursive: true });

    const fakeBin = process.env.FAKEOPENAI ? path.resolve(edgeDir, process.env.FAKEOPENAI) : path.join(state, 'fakeopenai');
    if (!process.env.FAKEOPENAI) await run('go', ['build', '-o', fakeBin, './relay/cmd/fakeopenai'], { cwd: repoDir });
    const fakePort = await freePort();
    fake = start(fakeBin, ['--addr', `127.0.0.1:${fakePort}`, '--text', AI_TEXT, '--delay', '10ms'], { logFile: path.join(logs, 'fakeopenai.log') });
    const fakeURL = `http://127.0.0.1:${fakePort}/v1`;
    await waitFor('the fake upstream', 15_000, async () => (await fetch(fakeURL + '/models')).ok);

    // A fresh local D1 for this run, with the schema wrangler applies.
    await run(wrangler, ['d1', 'migrations', 'apply', 'kefu', '--local', '--persist-to', state], { env: quiet, ms: 90_000 });

    const port = await freePort();
    const inspector = await freePort();
    base = `http://127.0.0.1:${port}`;
    dev = start(wrangler, [
      'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector), '--local',
      '--persist-to', state, '--show-interactive-dev-session=false', '--live-reload=false',
      '--var', `OPENAI_BASE_URL:${fakeURL}`, '--var', 'OPENAI_API_KEY:sk-edge-test',
      ...(MODE ? ['--var', `KEFU_EDGE_INSTANCES:${MODE}`] : []),
    // WRANGLER_LOG=log: the Worker's own log lines too (a check below reads them).
    ], { env: { ...quiet, WRANGLER_LOG: 'log' }, logFile: path.join(logs, 'wrangler-dev.log') });
    await waitFor(`wrangler dev on ${base} (log: ${path.join(logs, 'wrangler-dev.log')})`, 90_000, async () => (await fetch(base + '/widget.js')).ok);
  });

  after(async () => {
    await dev?.stop();
    await fake?.stop();
    if (!process.env.EDGE_TEST_LOGS && state) fs.rmSync(state, { recursive: true, force: true });
  });

  const timeout = { timeout: 30_000 };
  const json = (body, token, accept = 'application/json') => ({
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: accept, ...(token ? { Authorization: 'Bearer ' + token } : {}) },
    body: JSON.stringify(body),
  });
  let conv;

  test('GET /widget.js is the widget loader', timeout, async () => {
    const res = await fetch(base + '/widget.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/javascript/);
    assert.match(await res.text(), /Kefu/);
  });

  test('the widget config says there is no socket, and where the classifier is', timeout, async () => {
    const cfg = await (await fetch(base + '/v1/widget/config')).json();
    assert.ok('ws' in cfg, 'config has ws');
    assert.equal(cfg.ws, null, 'ws is null: the widget goes straight to HTTP + SSE');
    assert.ok(cfg.model?.hash, 'a model is announced');
    assert.ok(cfg.wasm?.url && cfg.wasm_exec, 'the classifier module is announced');
    // Served by Workers static assets, readable cross-site, as on the relay.
    const wasm = await fetch(base + cfg.wasm.url, { headers: { Origin: 'https://shop.example' } });
    assert.equal(wasm.status, 200);
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.equal(wasm.headers.get('access-control-allow-origin'), '*');
    const bytes = new Uint8Array(await wasm.arrayBuffer());
    assert.deepEqual([...bytes.slice(0, 4)], [0, 0x61, 0x73, 0x6d], 'a WebAssembly module');
  });

  // The panel, its extra part and the shared modules are Workers static
  // assets, not inside app.wasm (widget/fs_js.go). The Worker knows their
  // hashes, and sends a page from before a deploy (an older hash) to the
  // current file (docs/decisions.md, issue 17).
  test('the widget files come from static assets; an old hash is redirected to the current one', timeout, async () => {
    const cfg = await (await fetch(base + '/v1/widget/config')).json();
    const app = fs.readFileSync(path.join(edgeDir, 'build', 'app.wasm'));
    const file = (name) => fs.readFileSync(path.join(repoDir, 'widget', name));
    const middle = (b) => b.subarray(b.length >> 1, (b.length >> 1) + 160);
    for (const [url, name] of [[cfg.panel, 'panel.js'], [cfg.extra, 'extra.js'], [cfg.markdown, 'shared/markdown.js']]) {
      assert.match(url ?? '', /^\/assets\/[0-9a-f]{12}\//, `${name} announced at a hashed URL`);
      assert.ok(url.endsWith('/' + name), url);
      const res = await fetch(base + url, { headers: { Origin: 'https://shop.example' } });
      assert.equal(res.status, 200, url);
      assert.match(res.headers.get('content-type'), /javascript/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.match(res.headers.get('cache-control'), /immutable/);
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(file(name)), `${url} is widget/${name}`);
      assert.equal(app.indexOf(middle(file(name))), -1, `${name} is not inside app.wasm`);
    }
    assert.notEqual(app.indexOf(middle(file('widget.js'))), -1, 'the loader is inside app.wasm (served at /widget.js)');

    const old = cfg.panel.replace(/^\/assets\/[0-9a-f]{12}\//, '/assets/000000000000/');
    const res = await fetch(base + old, { redirect: 'manual', headers: { Origin: 'https://shop.example' } });
    assert.equal(res.status, 302, 'an old hash is redirected');
    assert.equal(new URL(res.headers.get('location'), base).pathname, cfg.panel);
    assert.equal(res.headers.get('cache-control'), 'no-cache', 'the next deploy moves it: not kept');
    assert.equal(res.headers.get('access-control-allow-origin'), '*', 'readable cross-site, as the import of a module needs');
    const followed = await fetch(base + old);
    assert.equal(followed.status, 200);
    assert.ok(Buffer.from(await followed.arrayBuffer()).equals(file('panel.js')), 'the redirect ends at the current panel.js');
    assert.equal((await fetch(base + '/assets/000000000000/nope.js')).status, 404, 'a file the widget never had');
  });

  test('GET /v1/model serves the fitted model', timeout, async () => {
    const cfg = await (await fetch(base + '/v1/widget/config')).json();
    const res = await fetch(base + '/v1/model');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('etag'), `"${cfg.model.hash}"`);
    assert.ok((await res.arrayBuffer()).byteLength > 1000, 'model bytes');
  });

  test('POST /v1/classify classifies on the edge', timeout, async () => {
    const res = await fetch(base + '/v1/classify', json({ text: 'how long does shipping take?' }));
    assert.equal(res.status, 200);
    const r = await res.json();
    assert.equal(r.intent, 'shipping');
    assert.equal(r.matched, true);
  });

  test('POST /v1/conversations starts a conversation', timeout, async () => {
    const res = await fetch(base + '/v1/conversations', { method: 'POST' });
    assert.equal(res.status, 200);
    const w = await res.json();
    assert.ok(w.token && w.conversation_id, 'token and conversation');
    assert.equal(w.resume, 'new');
    conv = { token: w.token, id: w.conversation_id };
  });

  const send = async (id, text) => {
    const res = await fetch(`${base}/v1/conversations/${conv.id}/messages`, json({ id, text }, conv.token, 'text/event-stream'));
    assert.equal(res.status, 200);
    return readEvents(res);
  };

  test('an FAQ question is answered in its event stream', timeout, async () => {
    const ev = await send('q1', 'how long does shipping take?');
    assert.deepEqual(ev.map((e) => e.event), ['ack', 'message', 'done']);
    assert.deepEqual(ev[0].data, { type: 'ack', id: 'q1', seq: 1 });
    assert.equal(ev[1].data.intent, 'shipping');
    assert.equal(ev[1].data.from, 'bot');
    assert.equal(ev[1].id, '2');
    assert.deepEqual(ev[2].data, { seq: 2 });
  });

  test('an open question streams the AI answer from the upstream through fetch', timeout, async () => {
    const ev = await send('q2', 'can I pay with a gift card from my aunt?');
    const names = ev.map((e) => e.event);
    assert.equal(names[0], 'ack');
    assert.equal(names.at(-1), 'done');
    const deltas = ev.filter((e) => e.event === 'delta' && !e.data.done);
    assert.ok(deltas.length >= 3, `several deltas, got ${deltas.length}`);
    assert.deepEqual(deltas.map((d) => d.data.index), deltas.map((_, i) => i + 1), 'deltas in order');
    const stored = ev.find((e) => e.event === 'message' && e.data.via === 'ai');
    assert.ok(stored, 'the stored AI message');
    assert.equal(stored.data.text, AI_TEXT);
    assert.equal(deltas.map((d) => d.data.text).join(''), AI_TEXT, 'the deltas add up to the stored answer');
    const doneAt = ev.findIndex((e) => e.event === 'delta' && e.data.done);
    assert.ok(ev.indexOf(deltas.at(-1)) < ev.indexOf(stored) && ev.indexOf(stored) < doneAt,
      `text deltas, then the stored message, then the done delta: ${names.join(' ')}`);
    assert.equal(stored.data.seq, 4);
    assert.deepEqual(ev.at(-1).data, { seq: 4 });
  });

  test('resending the same client id stores nothing new', timeout, async () => {
    const ev = await send('q2', 'can I pay with a gift card from my aunt?');
    assert.deepEqual(ev[0].data, { type: 'ack', id: 'q2', seq: 3, duplicate: true });
    assert.equal(ev.filter((e) => e.event === 'delta').length, 0, 'no second answer');
  });

  test('history survives between requests (D1)', timeout, async () => {
    const res = await fetch(`${base}/v1/conversations/${conv.id}/messages?after=0`, { headers: { Authorization: 'Bearer ' + conv.token } });
    assert.equal(res.status, 200);
    const page = await res.json();
    assert.equal(page.seq, 4);
    assert.deepEqual(page.messages.map((m) => [m.seq, m.from, m.id ?? null]),
      [[1, 'visitor', 'q1'], [2, 'bot', 'q1#answer'], [3, 'visitor', 'q2'], [4, 'bot', null]]);
    // A returning visitor resumes where they were.
    const w = await (await fetch(base + '/v1/conversations', json({ conversation_id: conv.id, last_seq: 4 }, conv.token))).json();
    assert.equal(w.conversation_id, conv.id);
    assert.equal(w.resume, 'ok');
    assert.equal(w.seq, 4);
  });

  test('concurrent sends get contiguous seqs and each id once', timeout, async () => {
    const w = await (await fetch(base + '/v1/conversations', { method: 'POST' })).json();
    // 12 requests, 8 distinct ids: each a Worker instance of its own,
    // racing on one conversation in D1.
    const sends = Array.from({ length: 12 }, (_, i) => fetch(`${base}/v1/conversations/${w.conversation_id}/messages`,
      json({ id: 'c' + (i % 8), text: 'when are you open? ' + i }, w.token)));
    const acks = await Promise.all(sends.map(async (p) => (await p).json()));
    assert.equal(acks.filter((a) => a.duplicate).length, 4, 'four resends');
    const page = await (await fetch(`${base}/v1/conversations/${w.conversation_id}/messages`, { headers: { Authorization: 'Bearer ' + w.token } })).json();
    assert.deepEqual(page.messages.map((m) => m.seq), Array.from({ length: 16 }, (_, i) => i + 1), 'seqs 1..16, no gaps');
    const ids = page.messages.map((m) => m.id);
    assert.equal(new Set(ids).size, 16, 'every id once');
    for (let i = 0; i < 8; i++) assert.ok(ids.includes('c' + i) && ids.includes(`c${i}#answer`), `c${i} and its answer`);
  });

  test('asking for a person says plainly that nobody takes chats here', timeout, async () => {
    const ev = await send('p1', 'I want to talk to a real person');
    const sys = ev.find((e) => e.event === 'message' && e.data.from === 'system');
    assert.ok(sys, 'a system message');
    assert.match(sys.data.text, /No one from our team/);
    const w = await (await fetch(base + '/v1/conversations', json({ conversation_id: conv.id }, conv.token))).json();
    assert.equal(w.handler, 'bot', 'the bot keeps answering');
  });

  // A customer page on another origin with the script tag pointing at the
  // edge: the widget goes straight to HTTP + SSE, answers an FAQ in the
  // browser (classifier from the static assets) and streams an AI answer.
  test('the widget on a page answers an FAQ and streams an AI answer through the edge', { timeout: 90_000 }, async (t) => {
    const browser = findBrowser();
    if (browser.missing) {
      if (process.env.CI === 'true') assert.fail(browser.missing);
      process.stderr.write(`\n${'#'.repeat(72)}\n# SKIPPED edge browser check: ${browser.missing}\n${'#'.repeat(72)}\n\n`);
      t.skip(browser.missing);
      return;
    }
    const site = await startSite(base);
    const profile = tmpDir('kefu-edge-profile-');
    const context = await browser.chromium.launchPersistentContext(profile, {
      executablePath: browser.path, headless: true,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run'],
    });
    try {
      context.setDefaultTimeout(20_000);
      const page = await context.newPage();
      const sockets = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      await page.goto(site.url);
      await page.evaluate(() => { window.__msgs = []; window.Kefu.on('message', (m) => window.__msgs.push(m)); });
      await page.locator('kefu-widget button.l').click();
      await page.waitForFunction(() => performance.getEntriesByName('kefu:wasm-ready').length > 0, null, { timeout: 30_000 });
      const input = page.locator('kefu-widget textarea');
      await input.fill('how long does shipping take?');
      await input.press('Enter');
      await page.waitForFunction(() => window.__msgs.some((m) => m.instant && m.intent === 'shipping'));
      // …and the edge stored the question with its own copy of the answer.
      await page.waitForFunction(() => window.__msgs.some((m) => m.seq === 2 && m.via === 'browser'));
      await input.fill('which colour suits a small kitchen?');
      await input.press('Enter');
      await page.waitForFunction((text) => window.__msgs.some((m) => m.via === 'ai' && m.text === text), AI_TEXT);
      // The questions' stored copies come through the event stream, which
      // reads D1 every 2 s (no hub spans requests here).
      const shown = () => page.evaluate(() => [...document.querySelector('kefu-widget').shadowRoot.querySelectorAll('.ms .g')].map((g) => g.dataset.seq).join(','));
      await waitFor('every message shown with its seq', 15_000, async () => (await shown()) === '1,2,3,4');
      assert.deepEqual(sockets, [], 'no WebSocket was tried');
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
      await site.close();
    }
  });

  // Last: it replaces the intents. The documented import path: an export
  // file through kefu-edge-intents into D1, with the model it fitted: the
  // next request decodes it. No request fits one: the seeded defaults came
  // with their model, fitted by make edge.
  test('imported intents answer on the next request', { timeout: 120_000 }, async () => {
    const before = await (await fetch(base + '/v1/widget/config')).json();
    const logFile = path.join(logs, 'wrangler-dev.log');
    const logged = () => fs.readFileSync(logFile);
    // The first request seeded the defaults: the log says so, which shows
    // the Worker's log is read (the check below relies on it).
    await waitFor('the seed in the log', 15_000, async () => /intents: seeded the default FAQ intents/.test(logged().toString()));
    const file = path.join(state, 'intents.json');
    fs.writeFileSync(file, JSON.stringify({ intents: [
      { name: 'gift_cards', examples: ['do you sell gift cards', 'can I buy a gift voucher', 'gift card for a friend'], answer: 'Gift cards from 10 euros, sent by email.' },
      { name: 'human', examples: ['talk to a person'], action: 'handoff' },
    ] }));
    const sql = await run('go', ['run', './relay/cmd/kefu-edge-intents', file], { cwd: repoDir });
    fs.writeFileSync(path.join(state, 'intents.sql'), sql);
    await run(wrangler, ['d1', 'execute', 'kefu', '--local', '--persist-to', state, '--file', path.join(state, 'intents.sql')], { env: quiet, ms: 90_000 });
    const r = await (await fetch(base + '/v1/classify', json({ text: 'do you sell gift cards?' }))).json();
    assert.equal(r.intent, 'gift_cards');
    assert.equal(r.answer, 'Gift cards from 10 euros, sent by email.');
    const after = await (await fetch(base + '/v1/widget/config')).json();
    assert.notEqual(after.model.hash, before.model.hash, 'a new model');
    const model = await fetch(base + after.model.url);
    assert.equal(model.status, 200, 'the new model is served at its hashed URL');
    assert.doesNotMatch(logged().toString(), /intents: model fitted/, 'the Worker fitted a model (the seed\'s or the import\'s)');
  });

  test('GET /v1/ws is refused with not_supported', timeout, async () => {
    const res = await fetch(base + '/v1/ws', { headers: { Origin: 'https://shop.example' } });
    assert.equal(res.status, 501);
    const body = await res.json();
    assert.equal(body.error.code, 'not_supported');
    assert.match(body.error.message, /relay/);
  });

  // The rest needs the test routes (make test-edge builds them in).
  const hooks = async (t) => {
    if ((await fetch(base + '/__kefu_test/instance')).status === 200) return true;
    t.skip('a build without the test routes (EDGE_TEST_HOOKS=1 ./edge/build.sh)');
    return false;
  };

  test('a kept instance serves the next request; one that panicked does not', timeout, async (t) => {
    if (!(await hooks(t))) return;
    const which = async () => (await fetch(base + '/__kefu_test/instance')).json();
    const a = await which();
    const b = await which();
    if (!a.reuse) {
      assert.notEqual(a.instance, b.instance, 'an instance per request');
      return;
    }
    // Sequential requests: the pool's one idle instance takes both.
    assert.equal(b.instance, a.instance, 'the same instance');
    assert.ok(b.served > a.served, `it counts its requests (${a.served}, then ${b.served})`);
    const p = await fetch(base + '/__kefu_test/panic', { method: 'POST' });
    assert.equal(p.status, 500);
    assert.equal((await p.json()).error.code, 'internal');
    const crash = await fetch(base + '/__kefu_test/crash', { method: 'POST' });
    assert.equal(crash.status, 500, 'a panic no recover catches: the glue answers');
    const c = await which();
    assert.notEqual(c.instance, a.instance, 'the instance that panicked was dropped');
    const ok = await fetch(base + '/v1/classify', json({ text: 'how long does shipping take?' }));
    assert.equal(ok.status, 200, 'and the next requests are served');
  });

  test('a short soak: no state of one request in another', { timeout: 120_000 }, async (t) => {
    if (!(await hooks(t))) return;
    // The intents the import test above left; no import here (that test
    // showed a kept instance sees one on the next request), to keep the
    // suite short: make soak-edge imports twice in 10 000 requests.
    const phases = [{ faq: [['do you sell gift cards?', 'gift_cards']] }];
    const r = await soak(base, { n: 100, concurrency: 6, aiText: AI_TEXT, phases });
    assert.deepEqual(r.failures, []);
    assert.ok(Object.keys(r.counts).length >= 9, `every kind ran: ${JSON.stringify(r.counts)}`);
  });
});
