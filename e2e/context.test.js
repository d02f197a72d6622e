// Visitor context in the agent console (issue 15): a visitor writes on a
// page with a known path and title, arriving from another site, in a
// known time zone; the agent sees the page under the message (a link to
// origin and path, never the query), the browser, the local time and zone,
// the referrer, and the same person's earlier conversation from another
// device, which opens in the console. The page's title is shown as text.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, poll, watch, screenshot, W } from './lib/harness.js';
import { C, browser, visitorConversation } from './lib/console.js';
import { assertAccessible } from './lib/axe.js';

suite('visitor context', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('the console shows page, title, browser, local time and zone, referrer and an earlier conversation', async (t) => {
    // The same person on a laptop first: an earlier conversation.
    const laptop = await browser(t);
    const first = await laptop.newPage();
    await first.goto(site.add('help', {}));
    await first.evaluate(() => window.Kefu.identify({ email: 'cleo@example.com', name: 'Cleo' }));
    await W.open(first);
    await W.send(first, 'my first question, from the laptop');
    const earlier = await poll(() => visitorConversation(first), { what: 'first conversation id' });

    // Then on a phone in Chatham, from a search page, on an order page.
    const phone = await browser(t, { timezoneId: 'Pacific/Chatham', locale: 'en-NZ' });
    const shop = await phone.newPage();
    const url = site.add('orders/42', {});
    await shop.goto(url + '?token=s3cret#pay', { referer: 'https://search.example/results?q=cleo%40example.com' });
    await shop.evaluate(() => { document.title = 'Order 42 <img src=x onerror="window.__pwned=1">'; });
    await shop.evaluate(() => window.Kefu.identify({ email: 'cleo@example.com', name: 'Cleo' }));
    await W.open(shop);
    await W.send(shop, 'where is order 42?');
    const conv = await poll(() => visitorConversation(shop), { what: 'second conversation id' });
    assert.notEqual(conv, earlier);

    // The agent's console in the laptop's browser (another origin, so
    // other storage): one Chromium fewer to start.
    const con = await C.open(laptop, relay);
    const errors = watch(con);
    await C.signIn(con);
    await C.showTab(con, 'all');
    await C.entry(con, conv).waitFor();
    await C.select(con, conv);

    // The page under the visitor's message: the title as text, a link to
    // origin and path only.
    const at = con.locator('#stored .msg.from-visitor .page-at a').first();
    await at.waitFor();
    assert.equal(await at.textContent(), 'Order 42 <img src=x onerror="window.__pwned=1">');
    assert.equal(await at.getAttribute('href'), url);
    assert.equal(await at.getAttribute('rel'), 'noopener noreferrer nofollow');

    // The visitor panel: local time and zone, browser, referrer, visits.
    const panel = con.locator('#visitor-context');
    await panel.locator('dl.context').waitFor();
    const rows = await panel.evaluate((el) => Object.fromEntries([...el.querySelectorAll('dl.context dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    const want = new Intl.DateTimeFormat(undefined, { timeZone: 'Pacific/Chatham', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    const now = [want.format(new Date(Date.now() - 60_000)), want.format(new Date()), want.format(new Date(Date.now() + 60_000))];
    assert.ok(now.some((s) => rows['local time'].startsWith(s)) && rows['local time'].includes('Pacific/Chatham'), `local time: ${rows['local time']}`);
    assert.match(rows.browser, /Chrome \d+ on Linux/);
    assert.equal(rows['browser language'], 'en-NZ');
    assert.match(rows['came from'], /^https:\/\/search\.example\/(results)?$/);
    assert.equal(rows.visits.split(' ')[0], '1');
    await screenshot(con, 'console-visitor-context');
    const shown = await panel.textContent();
    for (const secret of ['s3cret', 'cleo%40example.com', '#pay']) assert.ok(!shown.includes(secret), `the panel shows ${secret}`);

    // The earlier conversation, found by the email, opens here.
    const open = panel.locator(`button.earlier-open[data-conv="${earlier}"]`);
    await open.waitFor();
    assert.match(await open.textContent(), /my first question, from the laptop/);
    await open.click();
    await poll(async () => (await C.history(con)).some((m) => m.text === 'my first question, from the laptop'), { what: 'the earlier conversation open' });

    // Wide: the panel is a column beside the history; axe finds nothing.
    await con.locator('#visitor-context dl.context').waitFor();
    await assertAccessible(con, 'console with the visitor panel');
    // At 320 px the panel has no column: the Visitor button shows it in
    // place of the history, and back.
    await con.setViewportSize({ width: 320, height: 640 });
    const toggle = con.locator('#visitor-toggle');
    assert.equal(await con.locator('#visitor-context').isVisible(), false);
    await toggle.click();
    assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
    await con.locator('#visitor-context dl.context').waitFor({ state: 'visible' });
    await screenshot(con, 'console-visitor-context-320');
    const w = await con.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(w <= 320, `no sideways scrolling at 320 px (scroll width ${w})`);
    await toggle.click();
    await con.locator('#history').waitFor({ state: 'visible' });

    assert.equal(await con.evaluate(() => window.__pwned), undefined);
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), [], 'no console errors (the 401 is /v1/auth/me before signing in)');
  });
});
