// The HTTP path: when no WebSocket gets through (here a customer CSP whose
// connect-src has no ws:), the widget talks HTTP + server-sent events:
// POST /v1/conversations, GET …/messages?after=N, POST …/messages with a
// streamed reply, and the long-lived GET …/events stream.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, W } from './lib/harness.js';

const NO_WS_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' RELAY; connect-src RELAY; style-src 'self'";
const ANSWER = 'Warm whites and soft greens make a small kitchen look larger, and they are easy to match with wood.';

suite('HTTP + SSE fallback', () => {
  let relay, site, context, httpMissing = '';
  before(async () => {
    const fake = await startFakeOpenAI({ scenario: 'normal', text: ANSWER, delay: '40ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    context = await launch();
    const res = await fetch(`${relay.url}/v1/conversations`, { method: 'POST', headers: { Origin: site.origin } });
    if (res.status === 404 || res.status === 405) httpMissing = `POST /v1/conversations is ${res.status}`;
  });

  it('instant answer, AI stream and live frames without a WebSocket', async () => {
    if (httpMissing) assert.fail(`MISSING RELAY PIECE: ${httpMissing}`);
    const page = await context.newPage();
    const paths = [];
    page.on('request', (r) => { const u = new URL(r.url()); if (u.pathname.startsWith('/v1/conversations')) paths.push(`${r.method()} ${u.pathname.replace(/conversations\/[^/]+/, 'conversations/{id}')}`); });
    await page.goto(site.add('no-ws', { csp: NO_WS_CSP }));
    await W.open(page);
    await W.send(page, 'how long does shipping take?');
    await poll(async () => (await W.stored(page)).length >= 2, { timeout: 20_000, what: 'question and answer stored over HTTP' });
    const [q, a] = await W.stored(page);
    assert.equal(q.text, 'how long does shipping take?');
    assert.equal(a.id, q.id + '#answer');
    assert.ok(paths.includes('POST /v1/conversations'), paths.join(', '));
    assert.ok(paths.includes('POST /v1/conversations/{id}/messages'));
    await poll(() => paths.includes('GET /v1/conversations/{id}/events'), { what: 'live events stream' });

    // The AI answer streams through the POST's event-stream reply.
    await page.evaluate(() => {
      const root = document.querySelector('kefu-widget').shadowRoot;
      window.__states = [];
      new MutationObserver(() => {
        const el = root.querySelector('.lv .g .t');
        if (el && el.textContent && window.__states.at(-1) !== el.textContent) window.__states.push(el.textContent);
      }).observe(root, { subtree: true, childList: true, characterData: true });
    });
    await W.send(page, 'which colour suits a small kitchen?');
    await poll(async () => (await W.stored(page)).some((m) => m.text === ANSWER), { timeout: 20_000, what: 'AI answer over SSE' });
    const states = await page.evaluate(() => window.__states);
    assert.ok(states.length >= 3, `saw ${states.length} streamed states`);
    assert.equal(await page.locator('kefu-widget .lv .g').count(), 0);
    const shown = await W.stored(page);
    assert.deepEqual(shown.map((m) => m.seq), shown.map((_, i) => i + 1), 'each message once, in order');
    await screenshot(page, 'http-fallback');

    // A reload resumes over HTTP too.
    await page.reload();
    await W.open(page);
    await poll(async () => (await W.stored(page)).length === shown.length, { what: 'resumed transcript' });
    await page.close();
  });
});
