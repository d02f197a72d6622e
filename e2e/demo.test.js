// The demo shop page the relay serves at /demo: a newcomer opens it and
// sees an instant answer within seconds, in the chat's language only.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, launch, screenshot, poll, W } from './lib/harness.js';

const CJK = /[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]/;

suite('demo page', () => {
  let relay, context;
  before(async () => {
    relay = await startRelay();
    context = await launch();
  });

  it('/demo shows the launcher and answers the default intents in one language', async (t) => {
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(`${relay.url}/demo`);
    await W.launcher(page).waitFor({ state: 'visible' });
    await page.click('#open-chat'); // the page's own button calls Kefu.open()
    await W.panel(page).waitFor({ state: 'visible' });
    await W.send(page, 'How long does shipping take?');
    await W.send(page, '你们几点开门？');
    const bots = async () => (await W.stored(page)).filter((m) => m.cls.includes('bo')).map((m) => m.text);
    await poll(async () => (await bots()).length === 2, { what: 'two FAQ answers' });
    const answers = await bots();
    assert.match(answers[0], /ship/i);
    assert.match(answers[1], /9:00/);
    // The page speaks English: no bilingual bubble, even for a question in Chinese.
    for (const a of answers) assert.doesNotMatch(a, CJK, `an English chat's answer: ${a}`);
    const secs = (Date.now() - t0) / 1000;
    t.diagnostic(`demo: open to two answers in ${secs} s`);

    // The page's language picker (Kefu.setLanguage): answers follow.
    await page.selectOption('#chat-lang', 'zh');
    await poll(() => page.evaluate(() => document.querySelector('kefu-widget').shadowRoot.querySelector('.k').lang === 'zh'), { what: 'the widget in Chinese' });
    await W.send(page, 'what are your opening hours');
    await poll(async () => (await bots()).length === 3, { what: 'the third answer' });
    const zh = (await bots())[2];
    assert.match(zh, /营业/, `the answer in Chinese: ${zh}`);
    assert.doesNotMatch(zh, /Monday/, 'one language only');
    await screenshot(page, 'demo-page');
  });
});
