// A returning visitor finds the conversation where it was: after a reload,
// and in every tab at once.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, W, relayMessages } from './lib/harness.js';
import { setWidget } from './lib/admin.js';

suite('conversation across reloads and tabs', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    // The fingerprint is off unless the shop turns it on (privacy.test.js
    // checks the default); this suite checks it works when on.
    await setWidget(relay, { fingerprint: true });
    site = await startSite(relay);
    context = await launch();
  });

  it('reload resumes the conversation from the last seq', async () => {
    const url = site.add('shop', {});
    const page = await context.newPage();
    await page.goto(url);
    await W.open(page);
    // The first message goes to a person; wait for the hand-off before the
    // second, so no answer can still be on its way when the snapshot is taken.
    await W.send(page, 'hello, first message');
    await poll(async () => (await relayMessages(page, relay)).some((m) => m.from === 'system'), { what: 'hand-off stored' });
    await W.send(page, 'what is your return policy?');
    const before = await poll(async () => { const s = await W.stored(page); return s.length >= 3 && s.at(-1).text === 'what is your return policy?' && s; }, { what: '3 stored messages' });
    assert.deepEqual((await relayMessages(page, relay)).map((m) => m.from), ['visitor', 'system', 'visitor']);
    const session = await page.evaluate(() => Object.fromEntries(Object.keys(localStorage).map((k) => [k.replace(/^kefu:[^:]+:\d+:/, ''), localStorage.getItem(k)])));
    assert.deepEqual(Object.keys(session).sort(), ['log', 'outbox', 'session', 'vid']);
    const { token, conv } = JSON.parse(session.session);
    assert.ok(token.length >= 32 && conv);

    // After a reload the transcript is drawn from the cache at once, and the
    // socket resumes after the last seq: the relay replays nothing old.
    const frames = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(f.payload)));
    await page.reload();
    await W.waitMark(page, 'panel');
    const hello = await poll(() => frames.map((f) => JSON.parse(f)).find((f) => f.type === 'hello'), { what: 'hello frame' });
    assert.equal(hello.token, token);
    assert.equal(hello.conversation_id, conv);
    assert.equal(hello.last_seq, before.at(-1).seq);
    // The fingerprint comes from the wasm module, which needs the relay to serve it with CORS.
    assert.match(hello.fingerprint || '', /^[0-9a-f]{64}$/, 'the session fingerprint goes in hello');
    await W.open(page);
    const after = await W.stored(page);
    assert.deepEqual(after.map((m) => [m.seq, m.text]), before.map((m) => [m.seq, m.text]));
    await W.send(page, 'and one after the reload');
    await poll(async () => (await W.stored(page)).some((m) => m.text === 'and one after the reload'), { what: 'new message stored' });
    const all = await relayMessages(page, relay);
    assert.deepEqual(all.map((m) => m.seq), all.map((_, i) => i + 1), 'no gaps, no duplicates');
    await screenshot(page, 'resume-after-reload');
    await page.close();
  });

  it('a fresh tab with an empty cache gets the whole conversation', async () => {
    const page = await context.newPage();
    const hellos = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => { const x = JSON.parse(f.payload); if (x.type === 'hello') hellos.push(x); }));
    await page.goto(site.add('shop2', {}));
    // This page's widget resumes the conversation and writes the cache
    // again as it goes: so it is dropped as the page goes away (pagehide),
    // once this page has said hello (it sends no other on a steady socket).
    await poll(() => hellos.length > 0, { what: 'the first page\'s hello' });
    await page.evaluate(() => addEventListener('pagehide', () => {
      for (const k of Object.keys(localStorage)) if (k.endsWith(':log')) localStorage.removeItem(k);
    }));
    const mark = hellos.length;
    await page.reload();
    await W.open(page);
    const shown = await poll(async () => { const s = await W.stored(page); return s.length >= 3 && s; }, { what: 'full replay' });
    assert.deepEqual(shown.map((m) => m.seq), shown.map((_, i) => i + 1));
    assert.equal(hellos[mark]?.last_seq, 0, `with nothing cached the widget asks for everything: ${JSON.stringify(hellos.map((h) => h.last_seq))}`);
    await page.close();
  });

  it('two tabs show one conversation, both ways, live', async () => {
    const fresh = await launch(); // a new visitor: the bot still answers
    const a = await fresh.newPage();
    const b = await fresh.newPage();
    await a.goto(site.add('tab-a', {}));
    await b.goto(site.add('tab-b', {}));
    await W.open(a);
    await W.open(b);
    await W.send(a, 'sent from tab A');
    await poll(async () => (await W.texts(b)).includes('sent from tab A'), { what: 'tab B shows tab A message' });
    await W.send(b, 'sent from tab B');
    await poll(async () => (await W.texts(a)).includes('sent from tab B'), { what: 'tab A shows tab B message' });
    const sa = await W.stored(a);
    const sb = await W.stored(b);
    assert.deepEqual(sa.map((m) => [m.seq, m.text]), sb.map((m) => [m.seq, m.text]));
    await screenshot(a, 'two-tabs-a');
    await screenshot(b, 'two-tabs-b');
    await a.close();
    await b.close();
  });

  it('a new visitor\'s second tab waits for the first tab\'s session: one visitor, not two', async () => {
    const ctx2 = await launch();
    const a = await ctx2.newPage();
    const b = await ctx2.newPage();
    const hellos = [];
    b.on('websocket', (ws) => ws.on('framesent', (f) => { const m = JSON.parse(f.payload); if (m.type === 'hello') hellos.push(m); }));
    await a.goto(site.add('tab-a', {}));
    await b.goto(site.add('tab-b', {}));
    await W.open(a);
    await W.open(b);
    await W.send(a, 'only one visitor please');
    await poll(async () => (await W.stored(b)).some((m) => m.text === 'only one visitor please'), { what: 'tab B shows the stored message' });
    const tok = await a.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':session')))).token);
    assert.ok(hellos.length > 0, 'tab B connected');
    // A hello without a token starts a visitor: tab B must only ever join tab A's.
    assert.deepEqual(hellos.map((h) => h.token), hellos.map(() => tok), 'every hello of tab B carries tab A\'s token');
    await ctx2.close();
  });

  it('a message whose tab never reached the relay is sent by another tab', async () => {
    const ctx2 = await launch();
    const a = await ctx2.newPage();
    const b = await ctx2.newPage();
    // Tab A's socket opens but never reaches the relay (no welcome, no token).
    await a.routeWebSocket(/\/v1\/ws/, () => {});
    await a.goto(site.add('tab-a', {}));
    await b.goto(site.add('tab-b', {}));
    await W.open(b);
    await W.open(a);
    await W.send(a, 'sent for me by tab B');
    await poll(async () => (await W.stored(b)).some((m) => m.text === 'sent for me by tab B'), { what: 'tab B adopted and sent tab A\'s message' });
    await ctx2.close();
  });

  it('a new visitor in tab B follows the conversation tab A starts', async () => {
    const ctx2 = await launch();
    const a = await ctx2.newPage();
    const b = await ctx2.newPage();
    await a.goto(site.add('tab-a', {}));
    await b.goto(site.add('tab-b', {}));
    await W.open(b);
    await W.open(a);
    await W.send(a, 'first words from tab A');
    await poll(async () => (await W.texts(b)).includes('first words from tab A'), { what: 'tab B joined the new conversation' });
  });
});
