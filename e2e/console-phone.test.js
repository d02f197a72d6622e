// The agent console on a phone (390 × 844, touch): the inbox, the open
// conversation and the reply box fit the screen without sideways
// scrolling, each usable by touch, and "‹ Inbox" goes back.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, screenshot, poll, watch, W } from './lib/harness.js';
import { C, ADMIN, browser, visitorConversation, onlyOnline } from './lib/console.js';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

// fits checks that the page does not scroll sideways and that the element
// is on screen, whole.
async function fits(page, sel) {
  const r = await page.evaluate((s) => {
    const e = document.querySelector(s);
    const b = e.getBoundingClientRect();
    return {
      left: b.left, right: b.right, top: b.top, bottom: b.bottom, width: innerWidth, height: innerHeight,
      scroll: document.documentElement.scrollWidth,
    };
  }, sel);
  assert.ok(r.scroll <= r.width, `no sideways scrolling (${r.scroll} > ${r.width})`);
  assert.ok(r.left >= 0 && r.right <= r.width + 0.5 && r.top >= 0 && r.bottom <= r.height + 0.5, `${sel} on screen: ${JSON.stringify(r)}`);
}

suite('agent console on a phone', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('at 390 px the inbox, the conversation and the reply box are usable', async (t) => {
    const phone = await browser(t, PHONE);
    const con = await C.open(phone, relay);
    const errors = watch(con);
    await C.signIn(con, ADMIN);
    await onlyOnline(relay, [ADMIN.username]);
    await fits(con, '#list-panel');
    await fits(con, '#presence');
    await fits(con, '#signout');
    assert.equal(await con.locator('#pane').isVisible(), false, 'the inbox has the screen');

    // A visitor asks for a person; the chat is routed to this agent.
    const desk = await browser(t);
    const shop = await desk.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'can I talk to a human please');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });
    await C.showTab(con, 'mine');
    await C.entry(con, conv).waitFor();
    await fits(con, `.entry[data-conv="${conv}"]`);
    await screenshot(con, 'console-phone-inbox');

    // Tap it: the conversation takes the screen, the reply box fits.
    await C.entry(con, conv).tap();
    await con.locator('#conv').waitFor({ state: 'visible' });
    assert.equal(await con.locator('#list-panel').isVisible(), false, 'the conversation has the screen');
    await poll(async () => (await C.history(con)).some((m) => m.from === 'visitor' && /human/.test(m.text)), { what: "the visitor's message in the thread" });
    for (const sel of ['#back', '#conv-title', '#close', '#reply', '#send', '#history']) await fits(con, sel);
    await con.locator('#reply').tap();
    await con.fill('#reply', 'Hello from a phone!');
    await con.locator('#send').tap();
    await poll(async () => (await W.stored(shop)).some((m) => m.text === 'Hello from a phone!'), { what: 'the reply reaching the visitor' });
    await poll(async () => (await C.history(con)).some((m) => m.from === 'agent' && m.text === 'Hello from a phone!'), { what: 'the reply stored in the thread' });
    await fits(con, '#reply');
    await screenshot(con, 'console-phone-thread');

    // Back to the inbox.
    await con.locator('#back').tap();
    await con.locator('#list-panel').waitFor({ state: 'visible' });
    assert.equal(await con.locator('#conv').isVisible(), false);
    await fits(con, `.entry[data-conv="${conv}"]`);
    // (The signed-out page's first /v1/auth/me is a 401 by design.)
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), [], 'no errors in the console page');
  });
});
