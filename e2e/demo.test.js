// The demo shop page the relay serves at /demo: a newcomer opens it and
// sees an instant answer within seconds.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, launch, screenshot, poll, W } from './lib/harness.js';

suite('demo page', () => {
  let relay, context;
  before(async () => {
    relay = await startRelay();
    context = await launch();
  });

  it('/demo shows the launcher and answers the default intents', async (t) => {
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${relay.url}/demo`);
    await W.launcher(page).waitFor({ state: 'visible' });
    await page.click('#open-chat'); // the page's own button calls Kefu.open()
    await W.panel(page).waitFor({ state: 'visible' });
    await W.send(page, 'How long does shipping take?');
    await W.send(page, '你们几点开门？');
    await poll(async () => (await W.stored(page)).filter((m) => m.cls.includes('bo')).length === 2, { what: 'two FAQ answers' });
    const answers = (await W.stored(page)).filter((m) => m.cls.includes('bo')).map((m) => m.text);
    assert.match(answers[0], /ship/i);
    assert.match(answers[1], /9:00/);
    const secs = (Date.now() - t0) / 1000;
    t.diagnostic(`demo: open to two answers in ${secs} s`);
    await screenshot(page, 'demo-page');
  });
});
