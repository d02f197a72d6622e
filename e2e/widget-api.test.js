// The widget API a site drives the chat with (issue 15): our launcher off
// or replaced by the page's own, opening with a message typed or sent,
// the unread count as an event, traits updated without a new identify.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, poll, screenshot, W } from './lib/harness.js';

const AI = 'Our lanterns are made of paper and bamboo.';

suite('widget API', () => {
  let relay, site, context;
  before(async () => {
    const fake = await startFakeOpenAI({ scenario: 'normal', text: AI, delay: '150ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    context = await launch();
  });

  const stored = async (page, cls) => (await W.stored(page)).filter((m) => m.cls.includes(cls)).map((m) => m.text);

  it('a custom launcher opens and closes the chat; ours stays hidden, even when asked back', async () => {
    const page = await context.newPage();
    await page.goto(site.add('custom', {
      attrs: { 'custom-launcher': '.help' },
      body: '<main><h1>Shop</h1><button class="help" type="button" aria-expanded="false">Chat with us</button></main>',
    }));
    await page.waitForFunction(() => window.Kefu && window.Kefu.version);
    assert.equal(await W.launcher(page).isVisible(), false, 'our launcher is hidden');
    await page.click('.help');
    await W.panel(page).waitFor({ state: 'visible' });
    assert.equal(await page.getAttribute('.help', 'aria-expanded'), 'true');
    await page.click('.help');
    await W.panel(page).waitFor({ state: 'hidden' });
    assert.equal(await page.getAttribute('.help', 'aria-expanded'), 'false');
    await page.evaluate(() => window.Kefu.showLauncher());
    assert.equal(await W.launcher(page).isVisible(), false, 'a custom launcher keeps ours off');
    await page.close();
  });

  it('hideLauncher / showLauncher and data-launcher="hidden"; open() still works', async () => {
    const page = await context.newPage();
    await page.goto(site.add('plain', {}));
    await W.launcher(page).waitFor({ state: 'visible' });
    await page.evaluate(() => window.Kefu.hideLauncher());
    await W.launcher(page).waitFor({ state: 'hidden' });
    await page.evaluate(() => window.Kefu.open());
    await W.panel(page).waitFor({ state: 'visible' });
    await page.evaluate(() => window.Kefu.showLauncher());
    await W.launcher(page).waitFor({ state: 'visible' });

    const off = await context.newPage();
    await off.goto(site.add('off', { attrs: { launcher: 'hidden' } }));
    await off.waitForFunction(() => window.Kefu && window.Kefu.version);
    assert.equal(await W.launcher(off).isVisible(), false);
    await off.evaluate(() => window.Kefu.showLauncher());
    await W.launcher(off).waitFor({ state: 'visible' });
    await page.close();
    await off.close();
  });

  it('open({message}) fills the box, open({message, send: true}) sends it; unread counts replies while closed', async () => {
    const page = await context.newPage();
    const frames = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(f.payload)));
    await page.goto(site.add('compose', {}));
    await page.evaluate(() => {
      window.__unread = [];
      window.Kefu.on('unread', (d) => window.__unread.push(d.count));
    });
    await page.evaluate(() => window.Kefu.open({ message: 'Where is order 1234?' }));
    await W.panel(page).waitFor({ state: 'visible' });
    await poll(async () => (await W.input(page).inputValue()) === 'Where is order 1234?', { what: 'the message box filled' });
    assert.deepEqual(await stored(page, 'vi'), [], 'nothing sent without send: true');

    await page.evaluate(() => window.Kefu.open({ message: 'What are your lanterns made of?', send: true }));
    // Closed before the answer streams in: it is counted as unread.
    await page.evaluate(() => window.Kefu.close());
    await W.panel(page).waitFor({ state: 'hidden' });
    await poll(async () => (await stored(page, 'vi')).includes('What are your lanterns made of?'), { what: 'the message sent' });
    assert.equal(await W.input(page).inputValue(), 'Where is order 1234?', 'a sent message leaves the typed draft alone');
    const counts = await poll(async () => { const u = await page.evaluate(() => window.__unread); return u.includes(1) && u; }, { timeout: 30_000, what: 'an unread event for the answer' });
    assert.ok(await page.locator('kefu-widget .b').isVisible(), 'the badge shows it too');
    await screenshot(page, 'widget-api-unread');
    await page.evaluate(() => window.Kefu.open());
    await poll(async () => (await page.evaluate(() => window.__unread)).at(-1) === 0, { what: 'unread back to 0 on open' });
    assert.ok(counts.every((n) => Number.isInteger(n) && n >= 0));
    // A late subscriber gets the current count (sticky, like ready).
    assert.equal(await page.evaluate(() => new Promise((r) => window.Kefu.on('unread', (d) => r(d.count)))), 0);

    // update() changes traits without a new identify.
    await page.evaluate(() => window.Kefu.identify({ name: 'Ann', plan: 'free' }));
    await page.evaluate(() => window.Kefu.update({ plan: 'gold' }));
    const sent = await poll(() => frames.map((f) => JSON.parse(f)).find((f) => f.type === 'identify' && f.traits.plan === 'gold'), { what: 'the updated traits sent' });
    assert.deepEqual(sent.traits, { name: 'Ann', plan: 'gold' });
    await page.close();
  });

  it('links in the visitor\'s own messages are clickable and safe; the text stays as typed', async () => {
    const page = await context.newPage();
    await page.goto(site.add('links', {}));
    await W.open(page);
    const text = 'My order: https://shop.example/orders/1234?x=1&y=2, and javascript:window.__xss=1 or <a href="https://evil.example">x</a>.';
    await W.send(page, text);
    await poll(async () => (await stored(page, 'vi')).includes(text), { what: 'the message stored, its text as typed' });
    const links = await page.evaluate(() => [...document.querySelector('kefu-widget').shadowRoot.querySelectorAll('.ms .g.vi .t a')]
      .map((a) => ({ href: a.href, text: a.textContent, target: a.target, rel: a.rel })));
    assert.deepEqual(links, [
      { href: 'https://shop.example/orders/1234?x=1&y=2', text: 'https://shop.example/orders/1234?x=1&y=2', target: '_blank', rel: 'noopener noreferrer' },
      { href: 'https://evil.example/', text: 'https://evil.example', target: '_blank', rel: 'noopener noreferrer' },
    ]);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    await page.close();
  });

  it('a bad custom launcher selector is ignored: our launcher stays', async () => {
    const page = await context.newPage();
    const warnings = [];
    page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    await page.goto(site.add('bad-selector', { attrs: { 'custom-launcher': '[[nope' } }));
    await W.launcher(page).waitFor({ state: 'visible' });
    await W.open(page);
    assert.ok(warnings.some((w) => w.includes('data-custom-launcher')), `warned: ${warnings}`);
    await page.close();
  });
});
