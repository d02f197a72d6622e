// Tags and search in the real console against the real relay (issue 15):
// an agent tags a conversation by keyboard (suggestions from the tags in
// use), a second console sees the tag live in its list, the search box
// finds conversations by a word being typed and by tag, opens one with
// the keyboard, and says what is wrong with a bad query. A result shows the
// message its words matched with those words marked, and the visitor's
// markup as plain text; state and agent filters find the conversation an
// agent took without writing in it. Visitors write
// over the relay's plain HTTP API (no widget page needed).
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, poll, screenshot, watch } from './lib/harness.js';
import { C, ADMIN, browser, createAgent } from './lib/console.js';

// visitorSays starts a conversation over HTTP and sends text in it.
async function visitorSays(relay, text) {
  const headers = { 'Content-Type': 'application/json', Origin: relay.url };
  const start = await fetch(`${relay.url}/v1/conversations`, { method: 'POST', headers, body: '{}' });
  assert.equal(start.status, 200, await start.clone().text());
  const { token, conversation_id: conv } = await start.json();
  const sent = await fetch(`${relay.url}/v1/conversations/${conv}/messages`, {
    method: 'POST', headers: { ...headers, Authorization: `Bearer ${token}` }, body: JSON.stringify({ id: 'm1', text }),
  });
  assert.ok(sent.ok, `send: ${sent.status} ${await sent.text()}`);
  return conv;
}

const results = (page) => page.evaluate(() => [...document.querySelectorAll('#search-results .entry')].map((e) => ({
  conv: e.dataset.conv, tags: [...e.querySelectorAll('.e-tags .chip')].map((c) => c.textContent),
  handler: e.querySelector('.e-handler').textContent,
})));

suite('tags and search', () => {
  let relay, mei;
  before(async () => {
    relay = await startRelay({ args: ['--agent-offline-grace', '1h'] });
    mei = (await createAgent(relay, { username: 'mei', name: 'Mei' })) || ADMIN;
  });

  it('tag by keyboard, seen live by another console; search by a word as typed and by tag; bad queries explained', async (t) => {
    const teapot = await visitorSays(relay, 'The teapot lid arrived cracked <img src=x onerror="window.pwned=1">, can I get a <b>replacement</b>?');
    const kettle = await visitorSays(relay, 'My kettle whistles too quietly');
    const other = await visitorSays(relay, 'Do you ship to Norway?');

    const ctx = await browser(t);
    const con = await C.open(ctx, relay);
    await C.signIn(con, mei);
    const errors = watch(con); // from sign-in on: the signed-out check before it answers 401
    const watcherCtx = await browser(t);
    const watcher = await C.open(watcherCtx, relay);
    await C.signIn(watcher, ADMIN);
    await C.showTab(watcher, 'all');
    await C.entry(watcher, teapot).waitFor();

    // Tag by keyboard: type, Enter; the second tag from the suggestions.
    await C.select(con, teapot);
    await con.locator('#tagbar').waitFor({ state: 'visible' });
    await con.focus('#tag-input');
    await con.keyboard.type('Damaged goods');
    await con.keyboard.press('Enter');
    await poll(async () => (await con.locator('#tag-list .tagchip').allTextContents()).some((x) => x.includes('damaged-goods')), { what: 'the tag in the bar' });
    assert.equal(await con.inputValue('#tag-input'), '', 'the box is emptied for the next tag');
    await con.keyboard.type('VIP');
    await con.keyboard.press('Enter');
    await poll(async () => (await con.locator('#tag-list .tagchip').count()) === 2, { what: 'two tags' });
    // Suggestions offer the tags in use.
    const suggested = await con.evaluate(() => [...document.querySelectorAll('#tag-suggestions option')].map((o) => o.value));
    assert.deepEqual(suggested.sort(), ['damaged-goods', 'vip']);
    // A bad tag is refused with the relay's reason, and nothing changes.
    await con.keyboard.type('no<b>tags');
    await con.keyboard.press('Enter');
    await poll(async () => /a tag is 1 to 32 letters/.test(await con.locator('#toast').textContent()), { what: 'the refusal shown' });
    await con.fill('#tag-input', '');
    // Backspace in the empty box removes the last tag (vip).
    await con.focus('#tag-input');
    await con.keyboard.press('Backspace');
    await poll(async () => (await con.locator('#tag-list .tagchip').count()) === 1, { what: 'the last tag removed' });

    // The other console shows the tag in its list, live.
    await poll(async () => (await watcher.locator(`.entry[data-conv="${teapot}"] .e-tags .chip`).allTextContents()).join() === 'damaged-goods',
      { timeout: 15_000, what: 'the tag in the other console\'s list' });
    await screenshot(watcher, 'tags-inbox');

    // Mei has the kettle conversation (routed to her, or taken now).
    await C.select(con, kettle);
    await C.own(con);

    // Search as typed: the last word is a prefix; the list gives way to results.
    await con.focus('#search-q');
    await con.keyboard.type('kett');
    await poll(async () => { const r = await results(con); return r.length === 1 && r[0].conv === kettle; }, { what: 'kettle found by "kett"' });
    assert.equal((await results(con))[0].handler, mei.name, 'a result names the agent who has it');
    assert.ok(await con.locator('#list-panel').isHidden(), 'results replace the inbox list');
    assert.match(await con.locator('#search-status').textContent(), /1 conversation found/);
    // The matched message, its words marked; markup in it is only text.
    await con.fill('#search-q', 'lid replacem');
    await poll(async () => (await con.locator('#search-results .e-snippet mark').allTextContents()).join() === 'lid,replacement', { what: 'the matched words marked' });
    const snip = await con.evaluate(() => {
      const e = document.querySelector('#search-results .e-snippet');
      return { text: e.textContent, tags: [...new Set([...e.querySelectorAll('*')].map((x) => x.tagName))].sort(), pwned: window.pwned };
    });
    assert.match(snip.text, /^Visitor: The teapot lid arrived cracked <img src=x onerror="window.pwned=1">, can I get a <b>replacement<\/b>\?$/);
    assert.deepEqual(snip.tags, ['MARK', 'SPAN'], 'no element from the message text');
    assert.equal(snip.pwned, undefined);
    // Filters: by tag alone.
    await con.fill('#search-q', '');
    await con.click('#search-filters-btn');
    assert.equal(await con.getAttribute('#search-filters-btn', 'aria-expanded'), 'true');
    await con.selectOption('#search-tag', 'damaged-goods');
    await poll(async () => { const r = await results(con); return r.length === 1 && r[0].conv === teapot && r[0].tags.join() === 'damaged-goods'; }, { what: 'teapot found by its tag' });
    // By state and agent: Mei took the kettle conversation and never wrote in it.
    await con.selectOption('#search-tag', '');
    await con.selectOption('#search-status-filter', 'agent');
    await con.selectOption('#search-agent', { label: mei.name });
    await poll(async () => { const r = await results(con); return r.some((x) => x.conv === kettle) && r.every((x) => x.handler === mei.name); },
      { what: 'kettle among the conversations with Mei, and only those' });
    await con.selectOption('#search-status-filter', 'closed');
    await poll(async () => /No conversation matches/.test(await con.locator('#search-status').textContent()), { what: 'no closed conversation' });
    await con.selectOption('#search-status-filter', '');
    await con.selectOption('#search-agent', '');
    await con.selectOption('#search-tag', 'damaged-goods');
    await poll(async () => { const r = await results(con); return r.length === 1 && r[0].conv === teapot; }, { what: 'teapot found by its tag again' });
    // Open a result by keyboard: ↓ from the box, Enter.
    await con.focus('#search-q');
    await con.keyboard.press('ArrowDown');
    await con.keyboard.press('Enter');
    await poll(async () => (await con.locator('#conv-title').textContent()) !== '' && await con.locator('#conv').isVisible(), { what: 'the result opened' });
    assert.deepEqual(await con.locator('#tag-list .tagchip span').allTextContents(), ['damaged-goods'], 'the opened conversation is the tagged one');

    // A bad query: the relay's reason is shown.
    await con.selectOption('#search-tag', '');
    await con.fill('#search-q', '?!');
    await poll(async () => /no words to search for/.test(await con.locator('#search-status').textContent()), { what: 'the bad query explained' });
    // Escape clears and brings the inbox back.
    await con.focus('#search-q');
    await con.keyboard.press('Escape');
    await poll(async () => con.locator('#list-panel').isVisible(), { what: 'the inbox back' });
    assert.ok(!(await results(con)).some((r) => r.conv === other), 'results cleared');
    await screenshot(con, 'search-console');
    // The refused tag and query answered 400, which Chromium logs; nothing else.
    assert.deepEqual(errors.filter((e) => !/Failed to load resource: the server responded with a status of 400/.test(e)), [], 'no console errors');
  });
});
