// The agent console (/console/) in a real browser against the real relay:
// routed chats, taking over from the AI mid-stream, replies reaching the
// visitor, reconnects without gaps or duplicates, untrusted text, the
// agent socket's origin and session rules, unread counts and presence.
//
// Agents: accounts come from the admin API (POST /v1/admin/agents) when the
// relay has it; otherwise every console signs in as the first admin (each
// browser context holds its own session), and the test says so.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, screenshot, poll, watch, W, relayMessages } from './lib/harness.js';
import { C, ADMIN, browser, createAgent, visitorConversation, agentFrames, adminSession, metric, onlyOnline } from './lib/console.js';
import http from 'node:http';

// A long answer streamed slowly: ~180 chunks of 4 characters, 120 ms apart
// (~22 s). The first tests act while it streams (take over, open it
// mid-answer), which must still be going when they do, also on a loaded
// box: its first 300 characters (12 s) were a close call there. A passing
// run never waits for its end.
const LONG = 'Kefu started as a small shop for kettles in 2012 and grew into a family business that ships teaware, ' +
  'loose-leaf tea and gift boxes to twenty countries; every order is packed by hand in our workshop, and our ' +
  'team answers every message personally, usually within one working day, in English or Chinese. ' +
  'We buy our tea from six small gardens we have visited ourselves, taste every harvest before it is packed, ' +
  'and print the garden, the picking date and the best water temperature on every bag; our kettles and pots ' +
  'come from two family workshops, and each one is checked for leaks and rough edges before it leaves us. ' +
  'Returns are free for thirty days, and a broken pot is replaced even after that if it broke in the post.';

// agents creates the people the tests sign in as.
async function agents(relay, t) {
  const mei = await createAgent(relay, { username: 'mei', name: 'Mei', capacity: 5 });
  if (mei) {
    const bo = await createAgent(relay, { username: 'bo', name: 'Bo', capacity: 5 });
    t?.diagnostic?.('agents created with POST /v1/admin/agents: mei, bo');
    return { mei, bo, api: true };
  }
  t?.diagnostic?.('POST /v1/admin/agents is missing: every console signs in as admin (independent sessions)');
  return { mei: ADMIN, bo: ADMIN, api: false };
}

suite('agent console', () => {
  let relay, site, people;
  before(async () => {
    const fake = await startFakeOpenAI({ scenario: 'normal', text: LONG, delay: '120ms' });
    // A long grace: chats of agents whose test ended never move to the next test's agent.
    relay = await startRelay({ args: ['--agent-offline-grace', '1h'], env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    people = await agents(relay);
  });

  it('an agent sees the AI streaming, takes over mid-stream and replies; the visitor sees it all', async (t) => {
    t.diagnostic(people.api ? 'agent: mei (admin API)' : 'agent: admin (no admin API yet)');
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    const errors = watch(con);
    await C.signIn(con, people.mei);

    const visitorCtx = await browser(t);
    const shop = await visitorCtx.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'tell me about the history of your company');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });

    // The conversation is the AI's: it shows in All, handled by the AI.
    await C.showTab(con, 'all');
    await C.entry(con, conv).waitFor();
    await C.select(con, conv);
    // The answer streams into the console, growing.
    const first = await poll(async () => { const s = await C.streamText(con); return s.length > 8 && s; }, { what: 'AI answer streaming in the console' });
    const later = await poll(async () => { const s = await C.streamText(con); return s.length > first.length + 8 && s; }, { what: 'the stream to grow' });
    assert.ok(LONG.startsWith(later), `streamed text is the answer's start: ${JSON.stringify(later)}`);
    assert.equal(await con.locator('#streams .msg.cut').count(), 0, 'not marked as joined mid-answer');
    assert.match(await C.handler(con), /AI/);
    await screenshot(con, 'console-ai-streaming');

    // Take over mid-stream.
    await con.click('#take');
    await poll(async () => /Assigned to you/.test(await C.handler(con)), { what: 'assigned to the agent' });
    const hist = await poll(async () => {
      const h = await C.history(con);
      return h.some((m) => m.from === 'bot' && /interrupted/.test(m.meta)) && h.some((m) => m.from === 'system' && /joined/.test(m.text)) && h;
    }, { what: 'the interrupted AI answer and the joined message in the console' });
    const partial = hist.find((m) => m.from === 'bot');
    assert.ok(partial.text.length > 0 && partial.text.length < LONG.length && LONG.startsWith(partial.text), `partial answer kept: ${partial.text.length} chars`);
    assert.equal(await C.streamText(con), '', 'the stream bubble is gone');

    // Canned replies (the FAQ intents' answers) go into the reply box.
    if (await con.locator('#canned').isVisible()) {
      const want = await con.locator('#canned option:nth-child(2)').getAttribute('data-text');
      await con.selectOption('#canned', { index: 1 });
      assert.equal(await con.inputValue('#reply'), want, 'canned reply inserted');
      await con.fill('#reply', '');
    } else {
      t.diagnostic('GET /v1/canned is missing: the canned-reply menu is hidden');
    }

    // Reply; it is pending until acked, then shown once as stored.
    const reply = `Hi, I'm ${people.mei.name}. Happy to tell you more about us.`;
    await C.reply(con, reply);
    await poll(async () => (await C.history(con)).filter((m) => m.text === reply).length === 1 && (await C.pending(con)).length === 0, { what: 'reply stored and acked' });

    // The visitor sees who joined, the reply, and the AI's partial answer marked interrupted.
    const joined = `${people.mei.name} joined the chat.`;
    const vis = await poll(async () => {
      const s = await W.stored(shop);
      return s.some((m) => m.text === joined) && s.some((m) => m.text === reply && m.cls.includes('ag')) && s;
    }, { what: 'the visitor to see the agent' });
    const ai = vis.find((m) => m.cls.includes('bo'));
    assert.ok(ai && LONG.startsWith(ai.text) && ai.text.length < LONG.length, 'the visitor keeps the partial AI answer');
    assert.match(ai.meta, /interrupted/);
    await poll(async () => (await shop.locator('kefu-widget .st').textContent()) === people.mei.name, { what: 'widget header names the agent' });
    await screenshot(con, 'console-took-over');
    await con.emulateMedia({ colorScheme: 'dark' });
    await screenshot(con, 'console-took-over-dark');
    await screenshot(shop, 'console-visitor-sees-agent');
    // The one expected error: GET /v1/auth/me answers 401 before sign-in.
    assert.deepEqual(errors.filter((e) => !/status of 401/.test(e)), [], 'no console errors');
  });

  // docs/protocol.md: "index: 0 (sent to a connection that joined
  // mid-answer) holds the whole text so far": a console opening a
  // conversation while the AI answers shows the answer from its start.
  it('a console that opens a conversation mid-answer shows the answer from its start', async (t) => {
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    const frames = agentFrames(con);
    await C.signIn(con, people.bo);
    const visitorCtx = await browser(t);
    const shop = await visitorCtx.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'where do you pack your orders?');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });
    // Wait until the visitor has seen a few pieces, then open it in the console.
    await poll(async () => ((await shop.locator('kefu-widget .lv .g .t').textContent().catch(() => '')) || '').length > 12, { what: 'the answer streaming to the visitor' });
    await C.select(con, conv);
    const d = await poll(() => frames.received.find((f) => f.type === 'delta' && f.conversation_id === conv && f.index === 0), { what: 'an index-0 delta in the console' });
    assert.ok(d.text.length > 12 && LONG.startsWith(d.text), 'the text so far');
    const shown = await poll(async () => { const x = await C.streamText(con); return x.length > d.text.length && x; }, { what: 'the stream to go on' });
    assert.ok(LONG.startsWith(shown), `shown from the start: ${JSON.stringify(shown.slice(0, 40))}`);
    assert.equal(await con.locator('#streams .msg.cut').count(), 0);
  });

  it('routing: a visitor who asks for a person is assigned to the online agent', async (t) => {
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    await C.signIn(con, people.mei);
    await onlyOnline(relay, [people.mei.username]);
    await C.showTab(con, 'mine');
    const before = await C.count(con, 'mine');

    const visitorCtx = await browser(t);
    const shop = await visitorCtx.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'can I talk to a human please');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });

    await C.entry(con, conv).waitFor();
    assert.equal(await C.count(con, 'mine'), before + 1);
    const e = (await C.entries(con)).find((x) => x.conv === conv);
    assert.equal(e.handler, 'You');
    assert.ok(e.unread >= 1, 'the visitor message is unread');
    await poll(async () => (await W.stored(shop)).some((m) => m.text === `${people.mei.name} joined the chat.`), { what: 'visitor told who joined' });
    await screenshot(con, 'console-routed-chat');

    // Close: the visitor is told, the entry leaves Mine.
    await C.select(con, conv, 'mine');
    await con.click('#close');
    await poll(async () => (await W.stored(shop)).some((m) => /conversation was closed/.test(m.text)), { what: 'visitor told the chat was closed' });
    await poll(async () => (await C.count(con, 'mine')) === before, { what: 'the closed chat left Mine' });
    assert.match(await C.handler(con), /Closed/);
  });

  it('keyboard only: sign in, switch tabs, move between chats, reply', async (t) => {
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    await con.locator('#username').waitFor();
    await con.focus('#username');
    await con.keyboard.type(people.mei.username);
    await con.keyboard.press('Tab');
    await con.keyboard.type(people.mei.password);
    await con.keyboard.press('Enter');
    await poll(() => C.connected(con), { what: 'signed in with the keyboard' });
    await onlyOnline(relay, [people.mei.username]);
    // Focus lands on the inbox tabs; arrows switch them.
    assert.equal(await con.evaluate(() => document.activeElement.id), 'tab-mine');
    await con.keyboard.press('ArrowRight');
    assert.equal(await con.evaluate(() => document.activeElement.id), 'tab-all');
    assert.equal(await con.getAttribute('#tab-all', 'aria-selected'), 'true');
    await con.keyboard.press('Home');
    assert.equal(await con.getAttribute('#tab-queue', 'aria-selected'), 'true');
    await con.keyboard.press('ArrowRight'); // Mine

    const shop = await (await browser(t)).newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'I would like to talk to a person');
    const conv = await poll(() => visitorConversation(shop), { what: 'conversation id' });
    await C.entry(con, conv).waitFor();
    // Alt+↓ opens a conversation of the tab, wherever the focus is.
    await con.keyboard.press('Alt+ArrowDown');
    await poll(async () => (await C.entry(con, conv).getAttribute('aria-current')) === 'true' || (await con.evaluate(() => document.querySelector('.entry[aria-current]')?.dataset.conv)), { what: 'a conversation selected' });
    await C.entry(con, conv).focus();
    await con.keyboard.press('Enter');
    assert.equal(await con.evaluate(() => document.activeElement.id), 'reply', 'opening a chat puts the focus in the reply box');
    await con.keyboard.type('First line');
    await con.keyboard.press('Shift+Enter');
    await con.keyboard.type('second line');
    await con.keyboard.press('Enter');
    await poll(async () => (await C.history(con)).some((m) => m.text === 'First line\nsecond line'), { what: 'a two-line reply sent with Enter' });
    await poll(async () => (await W.stored(shop)).some((m) => m.text === 'First line\nsecond line'), { what: 'the visitor got it' });

    // Every control has an accessible name.
    const unnamed = await con.evaluate(() => [...document.querySelectorAll('#app input, #app select, #app textarea, #app button')]
      .filter((e) => !e.hidden && !e.closest('[hidden]'))
      .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
      .map((e) => e.id || e.outerHTML.slice(0, 60)));
    assert.deepEqual(unnamed, []);
    await C.select(con, conv, 'mine');
    await con.click('#close');
  });

  it("a colleague's reply reaches an agent whose console was disconnected, once and in order", async (t) => {
    const meiCtx = await browser(t);
    const mei = await meiCtx.newPage();
    const meiFrames = agentFrames(mei);
    await mei.goto(relay.url + '/console/');
    await C.signIn(mei, people.mei);
    await onlyOnline(relay, [people.mei.username]);

    const visitorCtx = await browser(t);
    const shop = await visitorCtx.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'I want to speak to a person about my order');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });
    await C.showTab(mei, 'mine');
    await C.entry(mei, conv).waitFor();
    await C.select(mei, conv, 'mine');
    await C.reply(mei, 'Mei here: let me look at your order.');
    await poll(async () => (await C.pending(mei)).length === 0 && (await C.history(mei)).some((m) => m.text === 'Mei here: let me look at your order.'), { what: 'first reply acked' });
    const lastBefore = Math.max(...(await C.history(mei)).map((m) => m.seq));

    const boCtx = await browser(t);
    const bo = await C.open(boCtx, relay);
    await C.signIn(bo, people.bo);

    // Mei's browser loses the network: the console drops its socket.
    await meiCtx.setOffline(true);
    await poll(async () => (await mei.locator('#conn').getAttribute('data-state')) === 'offline', { what: 'console shows offline' });
    await poll(() => meiFrames.sockets.length === 1 && meiFrames.sockets[0].closed, { what: "Mei's socket closed" });
    if (people.api) {
      const s = await adminSession(relay);
      await poll(async () => {
        const r = await (await fetch(`${relay.url}/v1/admin/agents`, { headers: { Cookie: s.cookie } })).json();
        return r.agents.find((a) => a.username === 'mei')?.status === 'offline';
      }, { what: 'the relay sees Mei offline' });
    }
    // She writes meanwhile: it waits, pending.
    await C.reply(mei, 'Still here, checking the warehouse.');
    assert.deepEqual((await C.pending(mei)).map((p) => p.state), ['pending']);

    // The visitor asks again and a colleague answers.
    await W.send(shop, 'hello? anyone there?');
    const BO = `${people.bo.name} here, covering for ${people.mei.name}.`;
    await C.select(bo, conv, 'all');
    await C.reply(bo, BO);
    await poll(async () => (await C.pending(bo)).length === 0 && (await C.history(bo)).some((m) => m.text === BO), { what: "colleague's reply acked" });
    await screenshot(mei, 'console-offline-pending');

    // Mei is back: the console reconnects, resumes the conversation from
    // where it was, and sends her pending reply (same id) once.
    await meiCtx.setOffline(false);
    await poll(() => C.connected(mei), { what: 'console reconnected' });
    const shown = await poll(async () => {
      const h = await C.history(mei);
      return h.some((m) => m.text === BO) && h.some((m) => m.text === 'Still here, checking the warehouse.') && (await C.pending(mei)).length === 0 && h;
    }, { what: "the colleague's reply and the pending one in Mei's console" });
    const stored = await relayMessages(shop, relay);
    assert.deepEqual(shown.map((m) => [m.seq, m.text]), stored.map((m) => [m.seq, m.text]), 'the console shows exactly what the relay stored');
    assert.deepEqual(shown.map((m) => m.seq), shown.map((_, i) => i + 1), 'no gaps, no duplicates');
    assert.equal(shown.filter((m) => m.text === BO).length, 1);
    assert.equal(shown.filter((m) => m.text === 'Still here, checking the warehouse.').length, 1);
    assert.ok(shown.findIndex((m) => m.text === BO) < shown.findIndex((m) => m.text === 'Still here, checking the warehouse.'), 'in seq order');
    // The second socket asked for what came after the last seq it had shown.
    assert.ok(meiFrames.sockets.length >= 2, 'a new socket');
    const resume = meiFrames.sent.filter((f) => f.type === 'watch' && f.conversation_id === conv).at(-1);
    assert.equal(resume.last_seq, lastBefore, 'watch resumed from the last seq shown');
    // The pending reply went out with the id it had before the reconnect.
    const sends = meiFrames.sent.filter((f) => f.type === 'message' && f.text === 'Still here, checking the warehouse.');
    assert.equal(new Set(sends.map((f) => f.id)).size, 1, 'one client id for the pending reply');
    assert.equal((await C.history(bo)).filter((m) => m.text === BO).length, 1);
    await screenshot(mei, 'console-reconnected');

    // Transfer to the colleague, who closes it.
    if (people.api) {
      const boOption = await mei.evaluate((name) => [...document.querySelectorAll('#transfer-to option')].find((o) => o.textContent.startsWith(name + ' '))?.value, people.bo.name);
      await mei.selectOption('#transfer-to', boOption);
      await mei.click('#transfer');
      await poll(async () => /Assigned to Bo/.test(await C.handler(mei)), { what: 'transferred' });
      await C.showTab(bo, 'mine');
      await C.entry(bo, conv).waitFor();
      await poll(async () => (await W.stored(shop)).some((m) => m.text === `${people.bo.name} joined the chat.`), { what: 'visitor told Bo joined' });
    }
    await C.select(bo, conv, 'all');
    await bo.click('#close');
    await poll(async () => /Closed/.test(await C.handler(bo)), { what: 'closed' });
  });

  it('a page on another site cannot open the agent socket with the agent signed in', async (t) => {
    const ctx = await browser(t);
    const con = await C.open(ctx, relay);
    await C.signIn(con, people.bo);
    const wsURL = relay.url.replace('http:', 'ws:') + '/v1/agent/ws';
    // probe opens the agent socket from a page and reports what happened.
    const probe = (page) => page.evaluate((url) => new Promise((resolve) => {
      const ev = [];
      const ws = new WebSocket(url);
      const done = () => { clearTimeout(t); resolve(ev); };
      const t = setTimeout(() => { ev.push('timeout'); ws.close(); resolve(ev); }, 30_000);
      ws.onopen = () => { ev.push('open'); ws.send(JSON.stringify({ type: 'hello' })); };
      ws.onmessage = (e) => { ev.push('message:' + JSON.parse(e.data).type); ws.close(); };
      ws.onerror = () => ev.push('error');
      ws.onclose = (e) => { ev.push('close:' + e.code); done(); };
    }), wsURL);

    // Control: from the relay's own page the same code gets a welcome.
    const own = await probe(con);
    assert.deepEqual(own.slice(0, 2), ['open', 'message:welcome'], `same-origin probe: ${own}`);

    const refused = await metric(relay, 'kefu_connections_refused_total{reason="origin"}');
    const accepted = await metric(relay, 'kefu_connections_total{kind="agent"}');
    const evil = await ctx.newPage();
    const sockets = [];
    evil.on('websocket', (ws) => { const s = { url: ws.url(), frames: 0, error: '' }; sockets.push(s); ws.on('framereceived', () => s.frames++); ws.on('socketerror', (e) => { s.error = String(e); }); });
    await evil.goto(site.add('evil', { body: '<h1>A page on another site</h1>' }));
    const ev = await probe(evil);
    assert.ok(!ev.includes('open'), `the socket never opened: ${ev}`);
    assert.deepEqual(ev, ['error', 'close:1006']);
    const agentSockets = sockets.filter((s) => s.url.includes('/v1/agent/ws'));
    assert.equal(agentSockets.length, 1);
    assert.equal(agentSockets[0].frames, 0, 'no frame reached the page');
    assert.equal(await metric(relay, 'kefu_connections_refused_total{reason="origin"}'), refused + 1, 'the relay refused it for its origin');
    assert.equal(await metric(relay, 'kefu_connections_total{kind="agent"}'), accepted, 'no agent socket was accepted');

    // Below the browser: the agent's own cookie with another site's Origin
    // is refused before the upgrade (403 origin_not_allowed).
    const cookie = (await ctx.cookies(relay.url)).map((c) => `${c.name}=${c.value}`).join('; ');
    assert.match(cookie, /kefu_session=/);
    const upgrade = (origin) => new Promise((resolve, reject) => {
      const req = http.request(`${relay.url}/v1/agent/ws`, { headers: {
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        Origin: origin, Cookie: cookie,
      } });
      req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode }); });
      req.on('response', (res) => { let b = ''; res.on('data', (d) => { b += d; }); res.on('end', () => resolve({ status: res.statusCode, body: b })); });
      req.on('error', reject);
      req.end();
    });
    const foreign = await upgrade(site.origin);
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.body).error.code, 'origin_not_allowed');
    assert.equal((await upgrade(relay.url)).status, 101, 'the same cookie from the relay origin upgrades');
  });

  it('signing out in one tab closes the console socket in another', async (t) => {
    const ctx = await browser(t);
    const a = await C.open(ctx, relay);
    await C.signIn(a, people.bo);
    const b = await ctx.newPage();
    const bFrames = agentFrames(b);
    await b.goto(relay.url + '/console/'); // the same browser session: signed in already
    await poll(() => C.connected(b), { what: 'second tab connected' });
    const closes = await metric(relay, 'kefu_connection_closes_total{code="4001",kind="agent"}');

    const start = Date.now();
    await a.click('#signout');
    await a.locator('#signin').waitFor({ state: 'visible' });
    await b.locator('#signin').waitFor({ state: 'visible' });
    const took = Date.now() - start;
    t.diagnostic(`other tab back at sign-in ${took} ms after sign-out`);
    assert.match(await b.locator('#signin-msg').textContent(), /session ended/);
    assert.ok(bFrames.sockets.length === 1 && bFrames.sockets[0].closed, 'its socket is closed');
    // Tab A closed its own socket before signing out; tab B was closed by the relay.
    await poll(async () => (await metric(relay, 'kefu_connection_closes_total{code="4001",kind="agent"}')) === closes + 1, { what: 'the relay closed the other tab with 4001' });
    assert.equal(await b.locator('#list .entry').count(), 0, 'the inbox is gone from the page');
    await screenshot(b, 'console-signed-out-elsewhere');
    // It does not try again on its own.
    await poll(() => true);
    assert.equal(bFrames.sockets.length, 1);
  });

  it('unread count in the title; away gets no new chats, online gets them', async (t) => {
    const ctx = await browser(t);
    const con = await ctx.newPage();
    const frames = agentFrames(con);
    await con.goto(relay.url + '/console/');
    await C.signIn(con, people.bo);
    await onlyOnline(relay, [people.bo.username]);
    await poll(async () => (await con.title()) === 'Kefu console', { what: 'no unread at first' });

    const v1 = await (await browser(t)).newPage();
    await v1.goto(site.add('shop', {}));
    await W.open(v1);
    await W.send(v1, 'please connect me with a human agent');
    const c1 = await poll(() => visitorConversation(v1), { what: 'conversation 1' });
    await poll(async () => (await con.title()) === '(1) Kefu console', { what: 'title (1)' });
    await W.send(v1, 'it is about a refund');
    await poll(async () => (await con.title()) === '(2) Kefu console', { what: 'title (2)' });
    await C.showTab(con, 'mine');
    assert.equal((await C.entries(con)).find((e) => e.conv === c1).unread, 2);
    await screenshot(con, 'console-unread-title');
    await C.select(con, c1, 'mine');
    await poll(async () => (await con.title()) === 'Kefu console', { what: 'title cleared once read' });

    // Away: a new chat waits in the queue.
    await con.selectOption('#presence', 'away');
    const me = frames.received.find((f) => f.type === 'welcome').agent.id;
    await poll(() => frames.received.some((f) => f.type === 'agents' && f.agents.find((a) => a.id === me)?.status === 'away'), { what: 'the relay has us away' });
    const v2 = await (await browser(t)).newPage();
    await v2.goto(site.add('shop', {}));
    await W.open(v2);
    await W.send(v2, 'can I talk to someone please');
    const c2 = await poll(() => visitorConversation(v2), { what: 'conversation 2' });
    await C.showTab(con, 'queue');
    await C.entry(con, c2).waitFor();
    assert.equal((await C.entries(con)).find((e) => e.conv === c2).handler, 'Queue');
    assert.equal(await con.title(), '(1) Kefu console', 'a waiting chat counts until opened');
    // The router retries the queue every 5 s: still ours to take after that.
    const until = Date.now() + 6500;
    await poll(async () => {
      assert.equal((await C.entries(con)).find((e) => e.conv === c2)?.handler, 'Queue', 'not routed while away');
      return Date.now() > until;
    }, { what: 'a router tick' });
    await screenshot(con, 'console-away-queue');

    // Online again: the waiting chat is ours.
    await con.selectOption('#presence', 'online');
    await C.showTab(con, 'mine');
    await C.entry(con, c2).waitFor();
    assert.equal(await C.count(con, 'queue'), 0);
    await poll(async () => (await W.stored(v2)).some((m) => m.text === `${people.bo.name} joined the chat.`), { what: 'visitor 2 told who joined' });
  });

  // Last in this suite: it restarts the relay.
  it('the console rides out a relay restart: reconnects, resumes, keeps Away', async (t) => {
    const ctx = await browser(t);
    const con = await ctx.newPage();
    const frames = agentFrames(con);
    await con.goto(relay.url + '/console/');
    await C.signIn(con, people.bo);
    await C.showTab(con, 'mine');
    const conv = (await C.entries(con))[0]?.conv;
    assert.ok(conv, 'Bo has a conversation from the test before');
    await C.select(con, conv, 'mine');
    const before = await poll(async () => { const h = await C.history(con); return h.length > 2 && h; }, { what: 'history' });
    await con.selectOption('#presence', 'away');
    const me = frames.received.find((f) => f.type === 'welcome').agent.id;
    await poll(() => frames.received.some((f) => f.type === 'agents' && f.agents.find((a) => a.id === me)?.status === 'away'), { what: 'away at the relay' });

    const states = [];
    await con.exposeFunction('__state', (s) => states.push(s));
    await con.evaluate(() => new MutationObserver(() => window.__state(document.querySelector('#conn').dataset.state))
      .observe(document.querySelector('#conn'), { attributes: true }));
    await relay.restart(); // SIGTERM: sockets closed with 1012
    await poll(() => frames.sockets.length >= 2 && C.connected(con), { what: 'reconnected to the new relay' });
    assert.ok(states.includes('waiting'), `backed off before reconnecting: ${states}`);
    // The relay forgot "away"; the console tells it again.
    await poll(() => frames.received.filter((f) => f.type === 'agents').at(-1)?.agents.find((a) => a.id === me)?.status === 'away', { what: 'away again after the restart' });
    assert.equal(await con.inputValue('#presence'), 'away');
    // The conversation resumed where it was: nothing lost, nothing twice.
    await W.send(await (async () => { const p = await (await browser(t)).newPage(); await p.goto(site.add('shop', {})); await W.open(p); return p; })(), 'I want to speak to a person please');
    await C.reply(con, 'Back after the restart.');
    const after = await poll(async () => { const h = await C.history(con); return h.some((m) => m.text === 'Back after the restart.') && (await C.pending(con)).length === 0 && h; }, { what: 'reply after the restart' });
    assert.deepEqual(after.slice(0, before.length).map((m) => [m.seq, m.text]), before.map((m) => [m.seq, m.text]));
    assert.deepEqual(after.map((m) => m.seq), after.map((_, i) => i + 1), 'no gaps, no duplicates');
    await C.showTab(con, 'queue');
    await poll(async () => (await C.count(con, 'queue')) >= 1, { what: 'the new chat waits in the queue (Bo is away)' });
  });
});

// Everything a visitor, an agent or the model types, and what the host page
// says about the visitor, is shown in the console as text: inbox previews,
// history (stored and streaming), visitor traits, notifications.
suite('agent console: untrusted text', () => {
  let relay, site, people;
  before(async () => {
    const fake = await startFakeOpenAI({ scenario: 'echo', delay: '5ms' });
    relay = await startRelay({
      args: ['--rate-per-conn', '100', '--rate-per-visitor', '100'],
      env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' },
    });
    site = await startSite(relay);
    people = await agents(relay);
  });

  it('≥ 30 payloads through every place text is shown run nothing and load nothing', async (t) => {
    const SELF = `${relay.url}/xss-beacon-self`; // allowed by the console's CSP: only our rendering stops it
    const SITE = `${site.origin}/xss-beacon`;
    const list = xssPayloads({ self: SELF, site: SITE, evil: 'https://evil.example/x' });
    assert.ok(list.length >= 30, `${list.length} payloads`);
    const traits = xssTraits(list);
    t.diagnostic(`${list.length} payloads, ${Object.keys(traits).length} traits`);

    // Requests, dialogs and CSP reports of every page.
    const hits = [];
    const dialogs = [];
    const beacon = /xss-beacon|evil\.example/;
    const agentCtx = await browser(t);
    const visitorCtx = await browser(t);
    for (const ctx of [agentCtx, visitorCtx]) ctx.on('request', (r) => { if (beacon.test(r.url())) hits.push(r.url()); });
    await agentCtx.grantPermissions(['notifications'], { origin: relay.url });
    await agentCtx.addInitScript(INIT_RECORDERS);
    const con = await agentCtx.newPage();
    con.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    await con.goto(relay.url + '/console/');
    await C.signIn(con, people.mei);
    await con.check('#opt-notify');
    assert.ok(await con.isChecked('#opt-notify'), 'notifications on');
    await con.evaluate(RECORD_TEXTS);

    const shop = await visitorCtx.newPage();
    shop.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    await shop.goto(site.add('shop', {}));
    await W.open(shop);

    // 1. The model echoes the payloads (bundled, with a marker per bundle).
    const bundles = bundle(list);
    for (const b of bundles) await W.send(shop, b);
    const conv = await poll(() => visitorConversation(shop), { what: 'conversation id' });
    const lastMark = bundles.at(-1).split('\n')[0];
    await poll(async () => (await W.stored(shop)).some((m) => m.cls.includes('bo') && m.text.startsWith(lastMark)), { timeout: 30_000, what: 'the model echoed the last bundle' });

    // 2. The page tells who the visitor is (Kefu.identify).
    await shop.evaluate((tr) => window.Kefu.identify(tr), traits);
    assert.ok(await traitsArrived(con, conv, traits), 'Kefu.identify() reached the relay');

    // 3. The agent opens it: history with the echoes, traits, then takes over.
    await C.select(con, conv);
    await poll(async () => (await con.locator('#traits dd').allTextContents()).includes(traits.name), { what: 'traits shown' });
    await con.click('#take');
    await poll(async () => /Assigned to you/.test(await C.handler(con)), { what: 'taken over' });

    // 4. With the console hidden, the visitor sends every payload: previews,
    //    history and notifications.
    await con.evaluate(() => { window.__hidden = true; document.dispatchEvent(new Event('visibilitychange')); });
    for (const p of list) {
      await W.send(shop, p);
      await poll(() => con.evaluate((want) => window.__texts.preview.has(want), previewOf(p)), { what: `preview of ${JSON.stringify(p.slice(0, 40))}` });
      await clean(con, p);
    }
    await con.evaluate(() => { window.__hidden = false; document.dispatchEvent(new Event('visibilitychange')); });

    // 5. The agent replies with every payload.
    for (const p of list) {
      await C.reply(con, p);
      await poll(async () => (await C.pending(con)).length === 0, { what: 'reply acked' });
      await clean(con, p);
    }
    // Agents write markdown: a reply shows as the strict renderer's text
    // (a [link](…) shows its words), computed by the module the console
    // itself loaded; every other payload shows character for character.
    const asShown = await con.evaluate(async (ps) => {
      const md = await import(new URL('../shared/markdown.js', document.querySelector('script[type=module]').src).href);
      return ps.map((p) => md.renderMarkdown(p).textContent);
    }, list);
    t.diagnostic(`${asShown.filter((x, i) => x !== list[i]).length} agent replies render as markdown`);
    await poll(async () => {
      const shown = await W.stored(shop);
      return asShown.every((p) => shown.some((m) => m.cls.includes('ag') && m.text === p));
    }, { timeout: 20_000, what: 'the visitor sees every agent reply as text' });

    // Everything is shown as the literal text.
    const hist = await C.history(con);
    for (const p of list) {
      assert.ok(hist.some((m) => m.from === 'visitor' && m.text === p), `visitor message shown as text: ${JSON.stringify(p.slice(0, 60))}`);
    }
    for (const p of asShown) assert.ok(hist.some((m) => m.from === 'agent' && m.text === p), `agent reply shown as text: ${JSON.stringify(p.slice(0, 60))}`);
    for (const b of bundles) assert.ok(hist.some((m) => m.from === 'visitor' && m.text === b));
    const echoes = hist.filter((m) => m.from === 'bot');
    assert.ok(echoes.length >= 1 && echoes.some((m) => m.text.startsWith(lastMark)), 'the model echoes are in the history');
    const seen = await con.evaluate(() => ({ preview: [...window.__texts.preview], names: [...window.__texts.names] }));
    for (const p of list) assert.ok(seen.preview.includes(previewOf(p)), `preview shown as text: ${JSON.stringify(p.slice(0, 60))}`);
    assert.ok(seen.names.includes(traits.name), 'the visitor name (a payload) in the inbox');
    assert.equal(await con.locator('#conv-title').textContent(), traits.name);
    const dd = await con.evaluate(() => Object.fromEntries([...document.querySelectorAll('#traits dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
    for (const [k, v] of Object.entries(traits)) assert.equal(dd[k], v, `trait ${k} shown as text`);

    // Notifications: one per visitor message while hidden, text as sent.
    const notes = await con.evaluate(() => window.__notes);
    t.diagnostic(`${notes.length} notifications recorded`);
    for (const p of list) assert.ok(notes.some((n) => n.body === clipOneLine(p, 180)), `notification body as text: ${JSON.stringify(p.slice(0, 60))}`);
    assert.ok(notes.every((n) => n.title === `${traits.name} wrote`), 'notification title names the visitor literally');

    // Nothing ran, nothing loaded, nothing was even attempted.
    for (const page of [con, shop]) assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(await con.evaluate(() => window.__csp), [], 'no CSP violation in the console (nothing tried to run or load)');
    assert.deepEqual(hits, [], 'no request for a payload URL');
    assert.ok(!site.requests.some((u) => u.includes('xss-beacon')));
    const dom = await con.evaluate(() => {
      const allowed = new Set(['ARTICLE', 'DIV', 'SPAN', 'TIME', 'A', 'BUTTON', 'P', 'DT', 'DD', 'LI', 'UL', 'OL', 'EM', 'STRONG', 'CODE', 'PRE']); // PRE…: the markdown renderer's
      const bad = [];
      for (const root of document.querySelectorAll('#history, #list, #traits')) {
        for (const e of root.querySelectorAll('*')) if (!allowed.has(e.tagName)) bad.push(e.tagName);
      }
      const links = [...document.querySelectorAll('#history a, #traits a')].map((a) => ({ protocol: new URL(a.href).protocol, rel: a.rel }));
      return {
        bad,
        links,
        scripts: [...document.scripts].map((s) => s.src),
        foreign: document.querySelectorAll('img, iframe, object, embed, video, audio, svg, math, template, style, base, meta[http-equiv], form:not(#signin-form):not(#composer):not(#search):not(#tag-form)').length,
      };
    });
    assert.deepEqual(dom.bad, [], 'only the console\'s own elements in the history, inbox and traits');
    assert.ok(dom.links.every((l) => ['http:', 'https:', 'mailto:'].includes(l.protocol) && /noopener/.test(l.rel)), `links only http(s)/mailto: ${JSON.stringify(dom.links)}`);
    assert.equal(dom.scripts.length, 1, `one script: ${dom.scripts}`);
    assert.match(dom.scripts[0], new RegExp(`^${relay.url}/assets/[0-9a-f]{12}/console/app\\.js$`), 'only the console\'s own, content-hashed script');
    assert.equal(dom.foreign, 0, 'no element made from a payload');
    await con.locator('#stored .msg .text').first().click(); // clicking text does nothing
    assert.equal(await con.evaluate(() => window.__xss), undefined);
    await screenshot(con, 'console-xss-as-text');
    await C.showTab(con, 'mine');
    await screenshot(con, 'console-xss-inbox');
  });
});

// clean fails fast, naming the payload, when one made an element or ran.
async function clean(page, p) {
  const found = await page.evaluate(() => ({
    xss: window.__xss,
    els: [...document.querySelectorAll('#history *, #list *, #traits *')].map((e) => e.tagName)
      .filter((t) => !['ARTICLE', 'DIV', 'SPAN', 'TIME', 'A', 'BUTTON', 'P', 'DT', 'DD', 'LI', 'UL', 'OL', 'EM', 'STRONG', 'CODE', 'PRE'].includes(t)), // OL…PRE: markdown's
  }));
  assert.deepEqual(found, { xss: undefined, els: [] }, `after ${JSON.stringify(p.slice(0, 80))}`);
}

// INIT_RECORDERS runs before the console's own code: it records
// notifications (and lets them through), CSP violations, and lets the test
// say the tab is hidden (headless tabs are always visible).
const INIT_RECORDERS = `
window.__notes = [];
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
if (window.Notification) {
  const Real = window.Notification;
  window.Notification = new Proxy(Real, {
    construct(t, args) { window.__notes.push({ title: String(args[0]), body: String(args[1] && args[1].body) }); return Reflect.construct(t, args); },
    get(t, p) { const v = Reflect.get(t, p, t); return typeof v === 'function' ? v.bind(t) : v; },
  });
}
Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get() { return window.__hidden ? 'hidden' : 'visible'; } });
Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get() { return !!window.__hidden; } });
`;

// RECORD_TEXTS keeps every text the inbox and the stream bubbles ever show.
function RECORD_TEXTS() {
  window.__texts = { preview: new Set(), names: new Set(), stream: new Set() };
  const take = () => {
    for (const e of document.querySelectorAll('#list .e-preview')) window.__texts.preview.add(e.textContent);
    for (const e of document.querySelectorAll('#list .e-name')) window.__texts.names.add(e.textContent);
    for (const e of document.querySelectorAll('#streams .text')) window.__texts.stream.add(e.textContent);
  };
  new MutationObserver(take).observe(document.body, { subtree: true, childList: true, characterData: true });
  take();
}

// clipOneLine is the console's clip(): whitespace folded, cut with "…".
function clipOneLine(s, n) {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? t.slice(0, n - 1) + '…' : t;
}
// previewOf is what the inbox shows for a message: the relay keeps 140
// bytes (at a rune boundary) plus "…", the console folds it to one line.
function previewOf(s) {
  const b = Buffer.from(s);
  let p = s;
  if (b.length > 140) {
    let n = 140;
    while (n > 0 && (b[n] & 0xc0) === 0x80) n--;
    p = b.subarray(0, n).toString() + '…';
  }
  return clipOneLine(p, 140) || '…';
}

// bundle joins payloads into a few messages under the 4 KiB limit, each
// starting with a marker line, for the model to echo.
function bundle(list) {
  const out = [];
  let cur = [];
  const flush = () => { if (cur.length) out.push(`bundle-${out.length + 1}:\n${cur.join('\n')}`); cur = []; };
  for (const p of list) {
    if (Buffer.byteLength([...cur, p].join('\n')) > 3800) flush();
    cur.push(p);
  }
  flush();
  return out;
}

// traitsArrived asks the relay (a short-lived agent socket from the console
// page) whether the visitor's traits are stored.
async function traitsArrived(con, conv, traits) {
  return poll(() => con.evaluate(({ conv, want }) => new Promise((resolve) => {
    const ws = new WebSocket(location.origin.replace('http', 'ws') + '/v1/agent/ws');
    const t = setTimeout(() => { ws.close(); resolve(false); }, 10_000);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello' }));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data);
      if (f.type === 'welcome') ws.send(JSON.stringify({ type: 'watch', conversation_id: conv, last_seq: 1e9 }));
      if (f.type === 'watching' && f.conversation_id === conv) {
        clearTimeout(t);
        ws.close();
        resolve(Object.entries(want).every(([k, v]) => f.traits && f.traits[k] === v));
      }
    };
  }), { conv, want: traits }), { every: 500, what: 'traits at the relay' }).catch(() => false);
}

// xssPayloads: what people and models type to break pages.
function xssPayloads({ self, site, evil }) {
  return [
    `<script>window.__xss='script'</script>`,
    `<img src="${self}?img" onerror="window.__xss='img'">`,
    `<img src=x onerror=alert('img-alert')>`,
    `<svg onload="window.__xss='svg'"><image href="${self}?svg"/></svg>`,
    `<svg><script>window.__xss='svg-script'</script></svg>`,
    `<a href="javascript:window.__xss='link'">click me</a>`,
    `javascript:window.__xss='bare-url'`,
    `<iframe srcdoc="<script>parent.__xss='srcdoc'</script>"></iframe>`,
    `<iframe src="${site}?iframe"></iframe>`,
    `"><script>window.__xss='attr'</script>`,
    `' onmouseover='window.__xss="attr2"' x='`,
    `</textarea><script>window.__xss='textarea'</script>`,
    `<math><mtext><table><mglyph><style><img src=x onerror="window.__xss='math'">`,
    `<template><img src=x onerror="window.__xss='template'"></template>`,
    `<noscript><p title="</noscript><img src=x onerror=window.__xss='noscript'>">`,
    `<details open ontoggle="window.__xss='details'">x</details>`,
    `<style>@import url("${self}?css");*{display:none}</style>`,
    `<link rel=stylesheet href="${self}?link">`,
    `<object data="${self}?object"></object><embed src="${self}?embed">`,
    `<video><source onerror="window.__xss='video'"></video>`,
    `<body onload="window.__xss='body'"><input autofocus onfocus="window.__xss='focus'">`,
    `<meta http-equiv="refresh" content="0;url=${self}?meta"><base href="${evil}/">`,
    `![tracker](${self}?markdown-image)`,
    `[click here](javascript:window.__xss='md-link') [data](data:text/html,<script>alert(1)</script>)`,
    `[real site](${evil}/phish "title") <${evil}/autolink>`,
    `<a href="vbscript:msgbox(1)">vb</a> <a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">b64</a>`,
    `\u202Egnp.exe\u202C invoice <b>bold</b> \u2066\u2067rtl\u2069`,
    `jav\u200Bascript:window.__xss='zero-width' <scr\u200Bipt>window.__xss='zw2'</scr\u200Bipt>`,
    `{{constructor.constructor('window.__xss="tpl"')()}} \${window.__xss='tpl2'} <%= 7*7 %>`,
    `&lt;img src=x onerror=window.__xss='entity'&gt; %3Cscript%3Ewindow.__xss='enc'%3C/script%3E`,
    `mailto:ann@example.com?subject=<script>window.__xss='mail'</script>`,
    `<form action="${self}?form"><button formaction="javascript:window.__xss='form'">go</button></form>`,
    `<div style="background:url(${self}?style)">styled</div>`,
    `<scri<script>pt>window.__xss='nested'</scr</script>ipt>`,
    `<img src=x onerror=window.__xss='long'>` + ' A'.repeat(1700),
    '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 客服 サポート 🧪 <b>mixed</b> ' + 'x'.repeat(300),
  ];
}

// xssTraits: up to 20 traits (a-z0-9_ names, ≤ 256-byte values) from the
// payloads; the name is a payload too, shown as the visitor's name.
function xssTraits(list) {
  const out = { name: `<img src=x onerror="window.__xss='name'">Ann` };
  let i = 0;
  for (const p of list) {
    if (Object.keys(out).length >= 19) break; // email below makes 20
    if (Buffer.byteLength(p) <= 256) out[`t${i++}`] = p;
  }
  out.email = `"><svg onload=window.__xss='email'>@example.com`;
  return out;
}
