// Per-language FAQ answers (issue 15): the widget shows the answer in the
// language it speaks — answered in the browser by the wasm classifier or
// by the relay — and the relay stores that same text.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, watch, poll, W, relayMessages } from './lib/harness.js';

suite('answers in the visitor\'s language', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  it('a German page gets the German answer at once (wasm), stored as shown', async () => {
    if (relay.wasmIssue) assert.fail(`MISSING RELAY PIECE: ${relay.wasmIssue}`);
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(site.add('de', { attrs: { lang: 'de' } }));
    await page.evaluate(() => { window.__msgs = []; window.Kefu.on('message', (m) => window.__msgs.push(m)); });
    await W.open(page);
    await W.waitMark(page, 'wasm-ready', 30_000);
    await W.send(page, 'how long does shipping take?');
    const instant = await poll(() => page.evaluate(() => window.__msgs.find((m) => m.instant)), { what: 'instant answer' });
    assert.match(instant.text, /Werktag/, `instant answer in German: ${instant.text}`);
    const onRelay = await poll(async () => { const m = await relayMessages(page, relay); return m.length >= 2 && m; }, { what: 'stored answer' });
    assert.equal(onRelay[1].via, 'browser');
    assert.equal(onRelay[1].text, instant.text, 'the relay stored the German answer the browser showed');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('a page without lang follows the browser (Korean), the relay answering when wasm is blocked', async () => {
    const korean = await launch({ locale: 'ko-KR' });
    const page = await korean.newPage();
    const csp = "default-src 'self'; script-src 'self' RELAY; connect-src RELAY WSRELAY; style-src 'self'; img-src 'self'";
    await page.goto(site.add('ko', { lang: null, csp }));
    await W.open(page);
    await W.send(page, 'what are your opening hours');
    const answer = await poll(async () => (await W.stored(page)).find((m) => m.cls.includes('bo')), { what: 'relay answer' });
    assert.match(answer.text, /영업/, `the Korean answer: ${answer.text}`);
    assert.doesNotMatch(answer.text, /Monday/);
    await page.close();
  });
});
