// Liveness: a relay frozen with SIGSTOP keeps every TCP connection open
// and says nothing — a half-open path as the browser sees it. The widget
// and the console must notice by the missing heartbeat, say so, reconnect
// once the relay is back (SIGCONT) and resume with nothing lost or doubled.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, watch, freeze, W, relayMessages } from './lib/harness.js';
import { C } from './lib/console.js';

// The heartbeat every 2 s (default 10 s): a dead path is noticed after
// 5 s instead of 25 s, the mechanism is the same. KEFU_E2E_PING=10s
// measures the default.
const PING = process.env.KEFU_E2E_PING || '2s';
// A customer page whose CSP allows no WebSocket: the widget goes HTTP + SSE.
const NO_WS_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' RELAY; connect-src RELAY; style-src 'self'";

// notice is the widget's status line when shown ("" when hidden).
const notice = (page) => page.evaluate(() => {
  const n = document.querySelector('kefu-widget')?.shadowRoot?.querySelector('.n');
  return n && !n.hidden ? n.textContent : '';
});

suite('liveness: a frozen relay', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay({ args: ['--ping-interval', PING] });
    site = await startSite(relay);
  });

  it('the widget says "Reconnecting…", then resumes with nothing lost or doubled', async (t) => {
    const context = await launch();
    const page = await context.newPage();
    const log = watch(page);
    await page.goto(site.add('frozen', {}));
    await W.open(page);
    await W.send(page, 'before the freeze');
    await poll(async () => (await W.stored(page)).some((m) => m.seq > 0 && m.text === 'before the freeze'), { what: 'first message stored' });
    assert.equal(await notice(page), '');

    const thaw = freeze(t, relay.proc);
    const frozenAt = Date.now();
    // Written into the dead socket: it sits in a kernel buffer, unacked.
    await W.send(page, 'typed while frozen');
    await poll(async () => (await notice(page)) === 'Reconnecting…', { timeout: 30_000, what: '"Reconnecting…" while the relay is frozen' });
    const noticed = Date.now() - frozenAt;
    await screenshot(page, 'liveness-widget-reconnecting');
    thaw();

    // Back: the notice goes, the message is stored once (the relay may
    // also read it from the abandoned socket: the same id is one message),
    // and the widget shows exactly what the relay stored.
    const stored = await poll(async () => {
      if (await notice(page)) return false;
      const shown = (await W.stored(page)).filter((m) => m.seq > 0);
      if (!shown.some((m) => m.text === 'typed while frozen')) return false;
      const rel = await relayMessages(page, relay);
      const same = JSON.stringify(shown.map((m) => [m.seq, m.text])) === JSON.stringify(rel.map((m) => [m.seq, m.text]));
      return same && rel;
    }, { timeout: 30_000, what: 'the widget back, showing what the relay stored' });
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), 'no gaps, no duplicates');
    assert.equal(stored.filter((m) => m.text === 'typed while frozen').length, 1, 'stored exactly once');
    assert.equal(stored.filter((m) => m.text === 'before the freeze').length, 1);
    assert.deepEqual(log.filter((l) => l.startsWith('pageerror')), []);
    t.diagnostic(`"Reconnecting…" shown ${noticed} ms after SIGSTOP (heartbeat ${PING})`);
    await context.close();
  });

  it('over HTTP (no WebSocket allowed) the widget notices the silent event stream too', async (t) => {
    const context = await launch();
    const page = await context.newPage();
    const events = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname.endsWith('/events')) events.push(r.url()); });
    await page.goto(site.add('frozen-http', { csp: NO_WS_CSP }));
    await W.open(page);
    await W.send(page, 'over http before the freeze');
    await poll(async () => (await W.stored(page)).some((m) => m.seq > 0 && m.text === 'over http before the freeze'), { timeout: 20_000, what: 'stored over HTTP' });
    await poll(() => events.length > 0, { what: 'the live event stream' });

    const thaw = freeze(t, relay.proc);
    const frozenAt = Date.now();
    await poll(async () => (await notice(page)) === 'Reconnecting…', { timeout: 30_000, what: '"Reconnecting…" with the event stream silent' });
    const noticed = Date.now() - frozenAt;
    thaw();
    const before = events.length;
    await W.send(page, 'over http after the thaw');
    const stored = await poll(async () => {
      if (await notice(page)) return false;
      const shown = (await W.stored(page)).filter((m) => m.seq > 0);
      return shown.some((m) => m.text === 'over http after the thaw') && events.length > before && shown;
    }, { timeout: 30_000, what: 'the widget back over HTTP with a new event stream' });
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), 'no gaps, no duplicates');
    t.diagnostic(`"Reconnecting…" shown ${noticed} ms after SIGSTOP over HTTP`);
    await context.close();
  });

  it('the console leaves "Connected", reconnects and resumes', async (t) => {
    const context = await launch();
    const page = await C.open(context, relay);
    await C.signIn(page);
    const thaw = freeze(t, relay.proc);
    const frozenAt = Date.now();
    const state = await poll(() => page.evaluate(() => {
      const el = document.querySelector('#conn');
      return el.dataset.state !== 'open' && { state: el.dataset.state, text: el.textContent };
    }), { timeout: 30_000, what: 'the console noticing the frozen relay' });
    const noticed = Date.now() - frozenAt;
    assert.match(state.text, /Reconnecting|Connecting/);
    await screenshot(page, 'liveness-console-reconnecting');
    thaw();
    await poll(() => C.connected(page), { timeout: 30_000, what: 'the console connected again' });
    t.diagnostic(`console left "Connected" ${noticed} ms after SIGSTOP (${state.text})`);
    await context.close();
  });
});
