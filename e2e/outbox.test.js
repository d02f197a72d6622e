// Messages typed offline wait in a persisted outbox and are sent once when
// the widget is back: after the network returns, and after the relay
// itself restarts, even across a closed tab.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, W, relayMessages } from './lib/harness.js';

const outbox = (page) => page.evaluate(() => {
  const k = Object.keys(localStorage).find((x) => x.endsWith(':outbox'));
  return k ? JSON.parse(localStorage.getItem(k)) : [];
});

suite('offline outbox', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  it('offline → online: the outbox is delivered once, in order', async () => {
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    await W.send(page, 'I am online');
    await poll(async () => (await W.stored(page)).length >= 1, { what: 'first message stored' });

    await context.setOffline(true);
    await poll(() => page.locator('kefu-widget .n').isVisible(), { what: 'offline notice' });
    await W.send(page, 'typed offline, one');
    await W.send(page, 'typed offline, two');
    const pending = await outbox(page);
    assert.deepEqual(pending.map((i) => i.text), ['typed offline, one', 'typed offline, two']);
    assert.equal(await page.locator('kefu-widget .pd .g').count(), 2, 'shown as pending');
    assert.match(await page.locator('kefu-widget .pd .g .me').first().textContent(), /Sending/);
    await screenshot(page, 'outbox-offline');

    await context.setOffline(false);
    await poll(async () => (await outbox(page)).length === 0, { what: 'outbox drained' });
    await poll(async () => (await page.locator('kefu-widget .pd .g').count()) === 0, { what: 'pending bubbles replaced' });
    const stored = await relayMessages(page, relay);
    const visitor = stored.filter((m) => m.from === 'visitor').map((m) => m.text);
    assert.deepEqual(visitor, ['I am online', 'typed offline, one', 'typed offline, two']);
    await screenshot(page, 'outbox-delivered');
    await page.close();
  });

  it('relay down, tab closed: the outbox survives and is sent once on the next visit', async () => {
    const page = await context.newPage();
    await page.goto(site.add('shop2', {}));
    await W.open(page);
    await relay.stop();
    await W.send(page, 'typed while the relay is down');
    await poll(async () => (await outbox(page)).length === 1, { what: 'persisted in the outbox' });
    await page.close();

    await relay.start();
    const again = await context.newPage();
    await again.goto(site.add('shop2', {}));
    await poll(async () => (await outbox(again)).length === 0, { timeout: 20_000, what: 'outbox sent after restart' });
    await W.open(again);
    const stored = await relayMessages(again, relay);
    const hits = stored.filter((m) => m.text === 'typed while the relay is down');
    assert.equal(hits.length, 1, 'stored exactly once');
    await poll(async () => (await W.texts(again)).filter((t) => t === 'typed while the relay is down').length === 1, { what: 'shown once' });
    await again.close();
  });

  it('the socket reconnects with backoff while the relay restarts, and resumes', async () => {
    const page = await context.newPage();
    await page.goto(site.add('shop3', {}));
    await W.open(page);
    const before = (await W.stored(page)).length;
    await relay.restart();
    await W.send(page, 'after the restart');
    await poll(async () => (await W.stored(page)).some((m) => m.text === 'after the restart'), { timeout: 20_000, what: 'message after restart' });
    const shown = await W.stored(page);
    assert.equal(shown.length, before + 1);
    assert.deepEqual(shown.map((m) => m.seq), shown.map((_, i) => i + 1), 'no gaps or duplicates after resume');
    await page.close();
  });
});
