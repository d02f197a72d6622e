// The AI answer streams token by token (delta frames), the final stored
// message replaces the streamed text, and a broken or dead upstream ends
// in a hand-off the visitor can read.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, freeze, W } from './lib/harness.js';

const ANSWER = 'Our gift cards never expire, can be used online and in stores, and you can check the balance on the receipt page anytime.';

// record keeps every distinct text of the streaming bubble, with the time
// the stored answer replaced it.
const record = (page) => page.evaluate(() => {
  const root = document.querySelector('kefu-widget').shadowRoot;
  window.__states = [];
  window.__final = null;
  new MutationObserver(() => {
    const t = root.querySelector('.lv .g .t');
    if (t && t.textContent && window.__states.at(-1) !== t.textContent) window.__states.push(t.textContent);
    const done = [...root.querySelectorAll('.ms .g.bo')].find((g) => g.querySelector('.au').textContent === 'AI');
    if (done && !window.__final) window.__final = { text: done.querySelector('.t').textContent, states: window.__states.length };
  }).observe(root, { subtree: true, childList: true, characterData: true });
});

suite('AI answers', () => {
  let relay, site, fake;
  before(async () => {
    fake = await startFakeOpenAI({ scenario: 'normal', text: ANSWER, delay: '40ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
  });

  it('streams token by token, then the stored message replaces the stream', async (t) => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    await record(page);
    await W.send(page, 'do your gift cards expire?');
    const final = await poll(() => page.evaluate(() => window.__final), { timeout: 20_000, what: 'stored AI answer' });
    const states = await page.evaluate(() => window.__states);
    t.diagnostic(`${states.length} streamed states before the stored answer, e.g. ${JSON.stringify(states.slice(0, 3))}`);
    assert.ok(final.states >= 3, `saw ${final.states} growing states before the final message`);
    for (let i = 1; i < states.length; i++) assert.ok(states[i].startsWith(states[i - 1]) && states[i].length > states[i - 1].length, 'each state extends the last');
    assert.equal(final.text, ANSWER);
    assert.equal(await page.locator('kefu-widget .lv .g').count(), 0, 'the streaming bubble is gone');
    assert.equal(await page.locator('kefu-widget .st').textContent(), 'AI assistant · instant answers');
    await screenshot(page, 'ai-streamed-answer');
  });

  it('an answer that arrives while the chat is closed raises the unread badge', async (t) => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    // The upstream is frozen until the chat is closed: an answer that came
    // while it was still open (a slow box) would be read, with no badge.
    const thaw = freeze(t, fake.proc);
    await W.send(page, 'tell me about gift cards');
    await page.keyboard.press('Escape');
    await W.panel(page).waitFor({ state: 'hidden' });
    thaw();
    await poll(async () => (await page.locator('kefu-widget .b').isVisible()) && (await page.locator('kefu-widget .b').textContent()) === '1', { timeout: 20_000, what: 'badge 1' });
    assert.match(await W.launcher(page).getAttribute('aria-label'), /\(1 unread\)$/);
    await screenshot(page, 'ai-unread-badge');
    await W.open(page);
    await poll(async () => !(await page.locator('kefu-widget .b').isVisible()), { what: 'badge cleared on open' });
  });

  it('a cut stream keeps what was said, marked interrupted, then hands off', async () => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    await W.send(page, 'what about store credit? [[fake:cut]]');
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('sy')), { timeout: 20_000, what: 'hand-off message' });
    const stored = await W.stored(page);
    const ai = stored.find((m) => m.cls.includes('bo'));
    assert.ok(ai && ai.text.length > 0 && ANSWER.startsWith(ai.text), `partial answer kept: ${JSON.stringify(ai)}`);
    assert.match(ai.meta, /interrupted/);
    assert.match(stored.find((m) => m.cls.includes('sy')).text, /person/);
    await poll(async () => (await page.locator('kefu-widget .st').textContent()) === 'Connecting you with a person…', { what: 'header shows the queue' });
    await screenshot(page, 'ai-cut-handoff');
  });

  it('an upstream error hands off to a person', async () => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    await W.send(page, 'can I pay by invoice? [[fake:500]]');
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('sy') && /person/.test(m.text)), { timeout: 30_000, what: 'hand-off after a 500' });
    assert.equal((await W.stored(page)).filter((m) => m.cls.includes('bo')).length, 0, 'no AI bubble');
    assert.equal(await page.locator('kefu-widget .lv .g').count(), 0);
  });

  it('a dead upstream (process stopped) hands off to a person', async () => {
    await fake.stop();
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    await W.send(page, 'can you recommend a colour for my kitchen?');
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('sy') && /person/.test(m.text)), { timeout: 40_000, what: 'hand-off with the upstream gone' });
    await poll(async () => (await page.locator('kefu-widget .st').textContent()) === 'Connecting you with a person…', { what: 'header shows the queue' });
    await screenshot(page, 'ai-dead-upstream-handoff');
  });
});
