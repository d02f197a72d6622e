// "Did you mean …?" (issue 14): a question between two intents is held
// under two buttons; a pick shows that intent's answer as an instant
// answer, stored as any other; "neither" sends it on to the AI or a person.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, watch, poll, W, relayMessages } from './lib/harness.js';
import { adminFetch } from './lib/admin.js';

// Two intents visitors confuse (they share examples): "礼品卡" is between
// them (router/didyoumean_test.go holds the same set).
const INTENTS = [
  { name: 'gift_card_balance', answer: 'See your balance at /gift.', examples: ['my gift card', 'a question about my gift card', 'gift card balance', 'what is the balance of my gift card', '我的礼品卡', '礼品卡余额'] },
  { name: 'gift_card_buy', answer: 'Buy one at /gift/buy.', examples: ['my gift card', 'a question about my gift card', 'buy a gift card', 'gift card for a friend', '我的礼品卡', '购买礼品卡'] },
  { name: 'opening_hours', answer: '9 to 5.', examples: ['when are you open', 'opening hours', 'what time do you close', 'are you open on sunday', '你们几点开门'] },
  { name: 'payment', answer: 'Cards and PayPal.', examples: ['which payment methods do you accept', 'can i pay with paypal', 'do you take credit cards', 'pay by bank transfer', '可以用支付宝吗'] },
  { name: 'human', action: 'handoff', examples: ['talk to a person', 'i want a human', 'real agent please', '转人工'] },
];

suite('did you mean', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    if (relay.wasmIssue) throw new Error(`MISSING RELAY PIECE: ${relay.wasmIssue}`);
    const res = await adminFetch(relay, 'POST', '/v1/admin/intents/import', { intents: INTENTS });
    assert.equal(res.status, 200, `import: ${JSON.stringify(res.data)}`);
    site = await startSite(relay);
    context = await launch();
  });

  async function ask(page, text) {
    await page.goto(site.add('dym-' + Math.random().toString(36).slice(2), {}));
    await page.evaluate(() => { window.__ev = []; window.Kefu.on('choices', (c) => window.__ev.push(c)); });
    await W.open(page);
    await W.waitMark(page, 'wasm-ready', 30_000);
    await W.send(page, text);
    return poll(() => page.evaluate(() => window.__ev[0]), { what: 'choices event' });
  }

  it('a pick shows that answer at once and the relay stores it as an instant answer', async () => {
    const page = await context.newPage();
    const errors = watch(page);
    const ev = await ask(page, '礼品卡');
    assert.deepEqual(ev.choices.map((c) => c.intent).sort(), ['gift_card_balance', 'gift_card_buy']);
    const buttons = page.locator('kefu-widget .dm button');
    assert.equal(await buttons.count(), 3, 'two intents and "neither"');
    const labels = await buttons.allTextContents();
    assert.ok(labels.includes('购买礼品卡') && labels.includes('礼品卡余额'), `buttons: ${labels}`);
    assert.equal(await page.locator('kefu-widget .dm').getAttribute('role'), 'group');
    await screenshot(page, 'did-you-mean');
    await page.locator('kefu-widget .dm button', { hasText: '购买礼品卡' }).click();
    const stored = await poll(async () => {
      const msgs = await relayMessages(page, relay);
      return msgs.length >= 2 && msgs;
    }, { what: 'stored question and answer' });
    assert.deepEqual(stored.map((m) => [m.from, m.via, m.intent, m.text]),
      [['visitor', 'browser', 'gift_card_buy', '礼品卡'], ['bot', 'browser', 'gift_card_buy', 'Buy one at /gift/buy.']]);
    assert.equal(await page.locator('kefu-widget .dm').count(), 0, 'the buttons are gone');
    assert.deepEqual(errors, []);
    await page.close();
  });

  it('"neither" sends the question on without an intent', async () => {
    const fresh = await launch(); // a new visitor, not the first test's conversation
    const page = await fresh.newPage();
    await ask(page, '礼品卡');
    await page.locator('kefu-widget .dm button.dn').click();
    const stored = await poll(async () => {
      const msgs = await relayMessages(page, relay);
      return msgs.some((m) => m.from === 'system') && msgs;
    }, { what: 'the hand-off (no AI configured)', timeout: 15_000 });
    assert.equal(stored[0].from, 'visitor');
    assert.equal(stored[0].text, '礼品卡');
    assert.ok(!stored[0].intent, 'no intent on the question');
    assert.ok(!stored.some((m) => m.from === 'bot' && m.intent), 'no canned answer');
    await fresh.close();
  });
});
