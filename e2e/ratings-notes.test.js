// Internal notes and ratings in the real widget, console and admin page
// against the real relay: a note an agent writes shows in the console
// (after a reload too) and never reaches the visitor — not on the widget's
// socket (every frame is read on the wire), not in the widget, not in what
// the relay stores for the visitor; closing the conversation asks the
// visitor for a rating, which the console shows and the dashboard
// averages for the agent.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, poll, screenshot, watch, W, relayMessages } from './lib/harness.js';
import { C, ADMIN, browser, createAgent, visitorConversation, onlyOnline } from './lib/console.js';
import { signIn } from './lib/admin.js';

const root = (page) => page.locator('kefu-widget');

// visitorFrames records every frame of the page's sockets to the relay
// that are not agent sockets: what the visitor's browser receives.
function visitorFrames(page) {
  const rec = { received: [], sockets: 0 };
  page.on('websocket', (ws) => {
    if (ws.url().includes('/v1/agent/')) return;
    rec.sockets++;
    ws.on('framereceived', (f) => rec.received.push(String(f.payload)));
  });
  return rec;
}

suite('ratings and notes', () => {
  let relay, site, mei;
  before(async () => {
    relay = await startRelay({ args: ['--agent-offline-grace', '1h'] });
    site = await startSite(relay);
    mei = (await createAgent(relay, { username: 'mei', name: 'Mei' })) || ADMIN;
  });

  it('a note stays with the agents; the visitor rates the closed chat and the dashboard counts it', async (t) => {
    const NOTE = 'NOTE-7f3a: refund approved by finance, do not promise a date';
    const ctx = await browser(t);
    const shop = await ctx.newPage();
    const errors = watch(shop);
    const wire = visitorFrames(shop);
    await shop.goto(site.add('rate', {}));
    await W.open(shop);
    await W.send(shop, 'my cup arrived broken, can I get a refund?');
    await poll(async () => (await W.stored(shop)).length > 0, { what: 'the question stored' });
    const conv = await visitorConversation(shop);

    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    await C.signIn(con, mei);
    await onlyOnline(relay, [mei.username]);
    await C.select(con, conv);
    await C.own(con);

    // A note: the composer switches to note mode and looks it.
    await con.click('[data-mode=note]');
    assert.ok(await con.locator('#composer.note-mode').isVisible(), 'the composer shows it writes a note');
    await C.reply(con, NOTE);
    const noteShown = () => con.evaluate(() => [...document.querySelectorAll('#stored .msg.note')].map((n) => ({ who: n.querySelector('.who').textContent, text: n.querySelector('.text').textContent })));
    const notes = await poll(async () => { const n = await noteShown(); return n.length === 1 && n; }, { what: 'the note in the console' });
    assert.equal(notes[0].text, NOTE);
    assert.match(notes[0].who, /internal note/);
    assert.equal(await con.locator('#pending .msg').count(), 0, 'the note was acknowledged');
    // Then a reply, which the visitor does get.
    await con.click('[data-mode=reply]');
    await C.reply(con, 'Yes — I have started the refund for you.');
    await poll(async () => (await W.texts(shop)).some((x) => x.includes('started the refund')), { timeout: 15_000, what: 'the visitor to get the reply' });
    await screenshot(con, 'notes-console');

    // Kept: a reload of the console shows the note where it was.
    await con.reload();
    await con.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'open', null, { timeout: 15_000 });
    await C.select(con, conv);
    await poll(async () => (await noteShown()).length === 1, { what: 'the note after a reload' });
    const order = await con.evaluate(() => [...document.querySelectorAll('#stored .msg')].map((m) => m.dataset.from));
    assert.deepEqual(order.filter((f) => f !== 'system' && f !== 'bot'), ['visitor', 'note', 'agent'], 'the note sits where it was written');

    // The visitor never had it: not on the wire, not on the page, not stored for them.
    assert.ok(wire.sockets > 0 && wire.received.length > 0, 'the widget\'s socket was recorded');
    assert.ok(wire.received.some((f) => f.includes('started the refund')), 'the recording holds the reply (it records what it should)');
    assert.ok(!wire.received.some((f) => f.includes('NOTE-7f3a') || f.includes('"note"')), 'no frame to the visitor carries the note');
    assert.ok(!(await root(shop).evaluate((r) => r.shadowRoot.textContent)).includes('NOTE-7f3a'), 'the widget shows no note');
    assert.ok(!(await relayMessages(shop, relay)).some((m) => (m.text || '').includes('NOTE-7f3a')), 'no stored message the visitor can read holds the note');

    // Closing asks the visitor for a rating.
    await con.click('#close');
    const card = root(shop).locator('.rc');
    await card.waitFor({ state: 'visible', timeout: 15_000 });
    assert.equal(await card.locator('.rt').textContent(), 'How did we do?');
    await screenshot(shop, 'rating-asked');
    await card.locator('.rs button').nth(3).click();
    await poll(async () => (await card.locator('.rm').textContent()).length > 0 && !(await card.locator('textarea').isHidden()), { what: 'thanks, and room for a comment' });
    assert.deepEqual(await card.locator('.rs button').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-checked'))), ['true', 'true', 'true', 'true', 'false']);
    await card.locator('textarea').fill('quick and kind');
    await card.locator('.rb').click();
    await poll(async () => card.locator('.rs').isHidden(), { what: 'the comment sent' });
    await screenshot(shop, 'rating-given');

    // The console shows the rating in the conversation.
    const rated = await poll(async () => {
      const r = await con.evaluate(() => [...document.querySelectorAll('#stored .msg.from-rating .text')].map((e) => e.textContent));
      return r.length && r;
    }, { timeout: 15_000, what: 'the rating in the console' });
    assert.ok(rated.at(-1).includes('4/5') && rated.at(-1).includes('quick and kind'), `console shows ${rated}`);

    // The dashboard averages it for Mei: the later rating (with the
    // comment) replaces the first for the same closing.
    const adminCtx = await browser(t);
    const adm = await adminCtx.newPage();
    assert.equal(await signIn(adm, relay), '');
    await adm.click('#tab-dashboard');
    const cards = await poll(async () => { const x = await adm.locator('#dash-csat-cards').textContent(); return x.includes('4.00') && x; }, { timeout: 15_000, what: 'the average on the dashboard' });
    assert.match(cards, /over 1 ratings?/);
    const byAgent = await adm.locator('#dash-csat-agents tbody tr').evaluateAll((rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
    assert.deepEqual(byAgent, [[mei.name, '1', '4.00', '100 %']]);
    await screenshot(adm, 'rating-dashboard');
    assert.deepEqual(errors, [], 'no console errors on the shop page');
  });
});
