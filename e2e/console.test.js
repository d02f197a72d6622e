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
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, watch, W, relayMessages } from './lib/harness.js';
import { C, ADMIN, browser, createAgent, visitorConversation, agentFrames } from './lib/console.js';

// A long answer streamed slowly: ~100 chunks of 4 characters, 120 ms apart.
const LONG = 'Kefu started as a small shop for kettles in 2012 and grew into a family business that ships teaware, ' +
  'loose-leaf tea and gift boxes to twenty countries; every order is packed by hand in our workshop, and our ' +
  'team answers every message personally, usually within one working day, in English or Chinese.';

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
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    people = await agents(relay);
  });

  it('an agent sees the AI streaming, takes over mid-stream and replies; the visitor sees it all', async (t) => {
    t.diagnostic(people.api ? 'agent: mei (admin API)' : 'agent: admin (no admin API yet)');
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    const errors = watch(con);
    const frames = agentFrames(con);
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
    const first = await poll(async () => { const s = await C.streamText(con); return s.length > 8 && s; }, { timeout: 15_000, what: 'AI answer streaming in the console' });
    const later = await poll(async () => { const s = await C.streamText(con); return s.length > first.length + 8 && s; }, { timeout: 10_000, what: 'the stream to grow' });
    const firstDelta = frames.received.find((f) => f.type === 'delta' && f.conversation_id === conv);
    if (firstDelta.index <= 1) {
      assert.ok(LONG.startsWith(later), `streamed text is the answer's start: ${JSON.stringify(later)}`);
    } else {
      // RELAY: an agent that watches mid-answer gets no index-0 delta with
      // the text so far (see the todo test below); the console says the
      // start is missing instead of showing a truncated answer as whole.
      t.diagnostic(`relay sent no index-0 delta on watch: first delta seen has index ${firstDelta.index}`);
      assert.ok(LONG.includes(later), `streamed text is part of the answer: ${JSON.stringify(later)}`);
      assert.equal(await con.locator('#streams .msg.cut').count(), 1, 'the console marks the stream as joined mid-answer');
    }
    assert.match(await C.handler(con), /AI/);
    await screenshot(con, 'console-ai-streaming');

    // Take over mid-stream.
    await con.click('#take');
    await poll(async () => /Assigned to you/.test(await C.handler(con)), { what: 'assigned to the agent' });
    const hist = await poll(async () => {
      const h = await C.history(con);
      return h.some((m) => m.from === 'bot' && /interrupted/.test(m.meta)) && h.some((m) => m.from === 'system' && /joined/.test(m.text)) && h;
    }, { timeout: 10_000, what: 'the interrupted AI answer and the joined message in the console' });
    const partial = hist.find((m) => m.from === 'bot');
    assert.ok(partial.text.length > 0 && partial.text.length < LONG.length && LONG.startsWith(partial.text), `partial answer kept: ${partial.text.length} chars`);
    assert.equal(await C.streamText(con), '', 'the stream bubble is gone');

    // Reply; it is pending until acked, then shown once as stored.
    const reply = `Hi, I'm ${people.mei.name}. Happy to tell you more about us.`;
    await C.reply(con, reply);
    await poll(async () => (await C.history(con)).filter((m) => m.text === reply).length === 1 && (await C.pending(con)).length === 0, { what: 'reply stored and acked' });

    // The visitor sees who joined, the reply, and the AI's partial answer marked interrupted.
    const joined = `${people.mei.name} joined the chat.`;
    const vis = await poll(async () => {
      const s = await W.stored(shop);
      return s.some((m) => m.text === joined) && s.some((m) => m.text === reply && m.cls.includes('ag')) && s;
    }, { timeout: 10_000, what: 'the visitor to see the agent' });
    const ai = vis.find((m) => m.cls.includes('bo'));
    assert.ok(ai && LONG.startsWith(ai.text) && ai.text.length < LONG.length, 'the visitor keeps the partial AI answer');
    assert.match(ai.meta, /interrupted/);
    await poll(async () => (await shop.locator('kefu-widget .st').textContent()) === people.mei.name, { what: 'widget header names the agent' });
    await screenshot(con, 'console-took-over');
    await screenshot(shop, 'console-visitor-sees-agent');
    assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), [], 'no console errors');
  });

  // docs/protocol.md: "index: 0 (sent to a connection that joined
  // mid-answer) holds the whole text so far". The relay does that for
  // visitor sockets (bot.Flow.Joined) but not for an agent's watch.
  it('a console that opens a conversation mid-answer gets the text so far (index-0 delta)', async (t) => {
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
    await poll(async () => ((await shop.locator('kefu-widget .lv .g .t').textContent().catch(() => '')) || '').length > 12, { timeout: 15_000, what: 'the answer streaming to the visitor' });
    await C.select(con, conv);
    const d = await poll(() => frames.received.find((f) => f.type === 'delta' && f.conversation_id === conv), { timeout: 10_000, what: 'a delta in the console' });
    assert.equal(d.index, 0, `first delta after watch has index ${d.index}, not 0: the start of the answer is lost`);
  }, { todo: 'RELAY: agent watch does not send the streaming answer so far (bot.Flow.SendSnapshot is only wired to visitor sockets)' });

  it('routing: a visitor who asks for a person is assigned to the online agent', async (t) => {
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    const frames = agentFrames(con);
    await C.signIn(con, people.mei);
    await C.showTab(con, 'mine');
    const before = await C.count(con, 'mine');

    const visitorCtx = await browser(t);
    const shop = await visitorCtx.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    await W.send(shop, 'can I talk to a human please');
    const conv = await poll(() => visitorConversation(shop), { what: 'visitor conversation id' });

    await C.entry(con, conv).waitFor({ timeout: 10_000 }).catch(async (e) => {
      await screenshot(con, 'debug-routing');
      console.log(JSON.stringify(frames.received.filter((f) => f.type !== 'delta'), null, 1).slice(0, 6000));
      throw e;
    });
    assert.equal(await C.count(con, 'mine'), before + 1);
    const e = (await C.entries(con)).find((x) => x.conv === conv);
    assert.equal(e.handler, 'You');
    assert.ok(e.unread >= 1, 'the visitor message is unread');
    await poll(async () => (await W.stored(shop)).some((m) => m.text === `${people.mei.name} joined the chat.`), { what: 'visitor told who joined' });
    await screenshot(con, 'console-routed-chat');
  });
});
