// The admin page in a real browser against the real relay: an intent added
// in the page answers visitors at once through wasm without a restart; the
// AI test streams; hostile text in every place the page shows it runs
// nothing and loads nothing; wrong passwords are throttled with one
// message for every failure.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, watch, W, relayMessages } from './lib/harness.js';
import { signIn, api, guard, assertClean, payloads, CSP_SPY } from './lib/admin.js';

const KEY = 'sk-e2e-admin-key-never-shown';
const GIFT = {
  name: 'gift_cards',
  examples: ['do you sell gift cards', 'can I buy a gift card', 'gift voucher for a friend', 'how do gift cards work', 'is there a gift certificate'],
  answer: 'Yes! Gift cards from 10 to 200 euros, sent by email within minutes.',
};

suite('admin page', () => {
  let relay, site, context, fake;
  before(async () => {
    fake = await startFakeOpenAI({ scenario: 'echo', delay: '5ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: KEY } });
    site = await startSite(relay);
    context = await launch();
    await context.addInitScript(CSP_SPY);
  });

  it('an intent added in the page is answered at once by the widget, through wasm, without a restart', async (t) => {
    const pid = relay.proc.pid;
    const page = await context.newPage();
    const errors = watch(page);
    assert.equal(await signIn(page, relay), '');
    await page.click('#tab-intents');
    await page.locator('#intent-rows tr').first().waitFor();
    await page.click('#intent-new');
    await page.fill('#f-name', GIFT.name);
    await page.fill('#f-examples', GIFT.examples.join('\n'));
    await page.selectOption('#f-action', 'answer');
    await page.fill('#f-answer', GIFT.answer);
    await page.click('#dlg-ok');
    await page.locator('#intent-rows th', { hasText: GIFT.name }).waitFor();
    assert.match(await page.locator('#intent-model').textContent(), /^5 intents/);

    // "Try a sentence" ranks the new intent first, with its score.
    await page.fill('#try-text', 'could I buy a gift card for my sister?');
    await page.click('#try-form button[type=submit]');
    await page.locator('#try-result .ranked li').first().waitFor();
    assert.match(await page.locator('#try-result p').first().textContent(), /Matched "gift_cards"/);
    assert.equal(await page.locator('#try-result .ranked .name').first().textContent(), 'gift_cards');
    await screenshot(page, 'admin-intents-try');

    // A customer page opened now gets the new model and answers in the browser.
    if (relay.wasmIssue) assert.fail(`MISSING RELAY PIECE: ${relay.wasmIssue}`);
    const shop = await context.newPage();
    await shop.goto(site.add('gifts', {}));
    await shop.evaluate(() => { window.__msgs = []; window.Kefu.on('message', (m) => window.__msgs.push(m)); });
    await W.open(shop);
    await W.waitMark(shop, 'wasm-ready', 30_000);
    await W.send(shop, 'do you sell gift cards?');
    const instant = await poll(() => shop.evaluate(() => window.__msgs.find((m) => m.instant)), { what: 'instant answer' });
    assert.equal(instant.intent, GIFT.name);
    assert.equal(instant.text, GIFT.answer);
    const stored = await poll(async () => { const m = await relayMessages(shop, relay); return m.length >= 2 && m; }, { what: 'stored answer' });
    assert.deepEqual(stored.map((m) => [m.from, m.via, m.intent]), [['visitor', 'browser', GIFT.name], ['bot', 'browser', GIFT.name]]);
    assert.equal(stored[1].text, GIFT.answer);
    assert.equal(relay.proc.pid, pid, 'the relay was not restarted');
    t.diagnostic(`instant answer from the admin's new intent: ${instant.ms.toFixed(1)} ms`);
    await screenshot(shop, 'admin-new-intent-answered-by-widget');

    // The conversation shows up in the admin page, with the browser's answer.
    await page.click('#tab-conversations');
    await page.locator('#conv-list .conv').first().click();
    await page.locator('#conv-detail .line.bot').waitFor();
    assert.match(await page.locator('#conv-detail .line.bot .line-meta').textContent(), /instant FAQ \(browser\).*gift_cards/);
    await page.click('#tab-dashboard');
    await poll(async () => (await page.locator('#dash-legend').textContent()).includes('FAQ in the browser (instant): 1'), { what: 'dashboard counts the answer' });
    await screenshot(page, 'admin-dashboard');
    assert.deepEqual(errors.filter((e) => !/401/.test(e)), []);
    await shop.close();
    await page.close();
  });

  it('the AI test streams the answer token by token, and the key never reaches the page', async () => {
    const page = await context.newPage();
    const bodies = [];
    page.on('response', async (r) => { if (r.url().includes('/v1/')) bodies.push(await r.text().catch(() => '')); });
    assert.equal(await signIn(page, relay), '');
    await page.click('#tab-ai');
    await poll(async () => (await page.locator('#ai-key-state').textContent()).startsWith('A key is set'), { what: 'key state' });
    assert.equal(await page.inputValue('#ai-key'), '', 'the key field starts empty');
    await page.evaluate(() => {
      window.__sizes = [];
      new MutationObserver(() => window.__sizes.push(document.querySelector('#ai-test-out').textContent.length))
        .observe(document.querySelector('#ai-test-out'), { childList: true });
    });
    await page.click('#ai-test');
    await poll(async () => /^Answered/.test(await page.locator('#ai-test-state').textContent()), { what: 'test answered' });
    const text = await page.locator('#ai-test-out').textContent();
    assert.match(text, /connection test from the Kefu admin page/, 'the echo model repeats the fixed question');
    const sizes = await page.evaluate(() => window.__sizes);
    assert.ok(new Set(sizes).size >= 3, `streamed in pieces: ${sizes.join(',')}`);
    await screenshot(page, 'admin-ai-test');
    assert.ok(!(await page.content()).includes(KEY), 'the key is not in the page');
    assert.ok(bodies.length > 2 && !bodies.some((b) => b.includes(KEY)), 'no response carried the key');
    await page.close();
  });

  it('hostile text from visitors, the model, intents, agents and settings runs nothing and loads nothing in any view', async (t) => {
    const beacon = `${relay.url}/xss-beacon`;
    const list = payloads(beacon);
    assert.ok(list.length >= 30);
    const g = guard(context, 'xss-beacon');

    // 1. A visitor sends every payload; the echo model answers with them.
    const shop = await context.newPage();
    await shop.goto(site.add('xss', {}));
    await W.open(shop);
    for (const p of list) await W.send(shop, p);
    await poll(async () => {
      const s = await W.stored(shop);
      return list.every((p) => s.some((m) => m.text === p && m.cls.includes('vi')));
    }, { timeout: 60_000, what: 'every payload stored' });
    // 2. The host page identifies the visitor with payloads as traits.
    await shop.evaluate(async ({ wsURL, traits }) => {
      const key = Object.keys(localStorage).find((k) => k.endsWith(':session'));
      const { token } = JSON.parse(localStorage.getItem(key));
      await new Promise((resolve, reject) => {
        const ws = new WebSocket(wsURL);
        ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token, last_seq: 0 }));
        ws.onmessage = (e) => {
          const f = JSON.parse(e.data);
          if (f.type === 'welcome') { ws.send(JSON.stringify({ type: 'identify', traits })); setTimeout(() => { ws.close(); resolve(); }, 300); }
          if (f.type === 'error') reject(new Error(f.message));
        };
        ws.onerror = () => reject(new Error('socket failed'));
      });
    }, { wsURL: relay.url.replace('http:', 'ws:') + '/v1/ws', traits: Object.fromEntries(list.filter((p) => p.length <= 256).slice(0, 19).map((p, i) => [`t${i}`, p]).concat([['name', list[0]]])) });
    await assertClean(shop, g, 'customer page');
    await shop.close();

    const page = await context.newPage();
    watch(page);
    assert.equal(await signIn(page, relay), '');
    const convs = (await api(page, 'GET', '/v1/admin/conversations?q=' + encodeURIComponent(list[0]))).data.conversations;
    assert.equal(convs.length, 1);
    const convID = convs[0].id;
    await poll(async () => {
      const r = await api(page, 'GET', `/v1/admin/conversations/${convID}`);
      return r.data.messages.filter((m) => m.via === 'ai' && !m.incomplete).length >= 2 && r.data.visitor.traits.t0;
    }, { timeout: 60_000, what: 'the AI echoed payloads, traits stored' });

    // 3. Intents named after, answering with and taught by payloads.
    const named = list.filter((p) => new TextEncoder().encode(p).length <= 64);
    for (const [i, p] of named.entries()) {
      const r = await api(page, 'POST', '/v1/admin/intents', { name: p, examples: [`${p} question ${i}`, `hostile example number ${i}`], answer: list[(i + 7) % list.length], action: i % 3 === 2 ? 'handoff' : 'answer', skill: i % 3 === 2 ? p : '' });
      assert.equal(r.status, 201, `intent ${p}: ${JSON.stringify(r.data)}`);
    }
    // 4. People named after payloads, with payload skills.
    for (const [i, p] of list.filter((x) => [...x].length <= 80).slice(0, 12).entries()) {
      const r = await api(page, 'POST', '/v1/admin/agents', { username: `hostile${i}`, name: p, password: 'hostile-password', skills: list[(i + 3) % list.length].slice(0, 1000), capacity: 2 });
      assert.equal(r.status, 201, `agent ${p}: ${JSON.stringify(r.data)}`);
    }
    // 5. Widget title and greeting.
    const w = (await api(page, 'GET', '/v1/admin/widget')).data.settings;
    assert.equal((await api(page, 'PUT', '/v1/admin/widget', { ...w, title: list[2], greeting: list[0] })).status, 200);
    t.diagnostic(`${list.length} payloads: ${named.length} intent names, 12 agent names, 20 traits, widget title and greeting`);

    // Every view that shows them.
    await page.reload();
    await page.locator('#app:not([hidden])').waitFor();
    await page.click('#tab-dashboard');
    await page.locator('#dash-cards .stat').first().waitFor();
    await assertClean(page, g, 'dashboard');

    await page.click('#tab-conversations');
    await page.locator('#conv-list .conv').first().waitFor();
    await page.locator(`#conv-list .conv[data-id="${convID}"]`).click();
    await page.locator('#conv-detail .line-text').nth(list.length).waitFor();
    const shown = await page.locator('#conv-detail .line.visitor .line-text').allTextContents();
    assert.ok(list.every((p) => shown.includes(p)), 'every payload shows as its literal text in the transcript');
    assert.ok((await page.locator('#conv-detail .traits dd').allTextContents()).includes(list[0]), 'traits shown as text');
    const aiLines = await page.locator('#conv-detail .line.bot .line-text').allTextContents();
    // The AI echoes the newest visitor message when its answer starts, so
    // which payloads it repeats depends on timing; it repeats some.
    assert.ok(aiLines.some((x) => x.includes('window.__xss')), 'the model\'s echo of a payload shows as text');
    await screenshot(page, 'admin-xss-transcript');
    await assertClean(page, g, 'conversation transcript');
    await page.fill('#conv-filter input[name=q]', '<script>');
    await page.click('#conv-filter button[type=submit]');
    await poll(async () => (await page.locator('#conv-list .conv-text').allTextContents()).some((x) => x.includes('<script>')), { what: 'search match shown' });
    await page.selectOption('#conv-intent', { index: 5 });
    await assertClean(page, g, 'conversation search');

    await page.click('#tab-intents');
    await page.locator('#intent-rows th', { hasText: named[0] }).waitFor();
    const names = await page.locator('#intent-rows th.name').allTextContents();
    assert.ok(named.every((p) => names.includes(p)), 'intent names show as text');
    await page.locator('#intent-rows tr', { has: page.locator('th', { hasText: named[1] }) }).getByRole('button', { name: /^Edit/ }).click();
    assert.equal(await page.inputValue('#f-name'), named[1]);
    await page.click('#dlg-cancel');
    await page.fill('#try-text', list[0]);
    await page.click('#try-form button[type=submit]');
    await page.locator('#try-result .ranked li').first().waitFor();
    await screenshot(page, 'admin-xss-intents');
    await assertClean(page, g, 'intents and the try box');
    // Edit an intent whose name holds / ? # and quotes: the URL carries it intact.
    const odd = named.find((p) => /[/?#"']/.test(p));
    await page.locator('#intent-rows tr', { has: page.locator('th', { hasText: odd }) }).getByRole('button', { name: /^Edit/ }).click();
    await page.fill('#f-answer', 'edited safely');
    await page.click('#dlg-ok');
    await poll(async () => (await api(page, 'GET', '/v1/admin/intents')).data.intents.some((i) => i.name === odd && i.answer === 'edited safely'), { what: 'odd-named intent edited' });

    await page.click('#tab-agents');
    await page.locator('#agent-rows tr').nth(12).waitFor();
    await page.locator('#agent-rows tr').nth(1).getByRole('button', { name: /^Edit/ }).click();
    await page.click('#dlg-cancel');
    await screenshot(page, 'admin-xss-agents');
    await assertClean(page, g, 'agents');
    const people = await page.locator('#agent-rows th.name').allTextContents();
    assert.ok(list.filter((x) => [...x].length <= 80).slice(0, 12).every((p) => people.includes(p)), 'agent names show as text');

    await page.click('#tab-widget');
    await poll(async () => (await page.locator('#w-mock .mock-greet').textContent()) === list[0], { what: 'greeting in the sketch' });
    // The demo shop is another origin: a click inside it cannot scroll the
    // admin page, so the frame is brought into view first, as a person would.
    await page.locator('#w-frame').scrollIntoViewIfNeeded();
    await page.frameLocator('#w-frame').locator('kefu-widget button.l').click();
    await page.frameLocator('#w-frame').locator('kefu-widget .p').waitFor({ state: 'visible' });
    await screenshot(page, 'admin-xss-widget');
    await assertClean(page, g, 'widget settings and preview');

    await page.click('#tab-ai');
    await page.click('#ai-test');
    await poll(async () => /^(Answered|Failed)/.test(await page.locator('#ai-test-state').textContent()), { what: 'AI test' });
    await assertClean(page, g, 'AI test');
    assert.deepEqual(g.errors, [], 'no page errors');
    await page.close();
  });

  it('an intents file with problems is checked first, each problem on its line, then imported; "Check the intents" shows the overlap', async () => {
    const page = await context.newPage();
    assert.equal(await signIn(page, relay), '');
    await page.click('#tab-intents');
    await page.locator('#intent-rows tr').first().waitFor();
    const file = [
      '{"intents": [',
      '  {"name": "shipping", "examples": ["how long does shipping take", "when will my\\npackage arrive", "how much is delivery"], "answer": "2 days."},',
      '  {"name": "delivery_time", "examples": ["how long does delivery take", "when will my parcel arrive"], "answer": "Soon."},',
      '  {"name": "returns", "examples": ["how do i return an item", "can i send it back", "what is your return policy"], "answer": "30 days."},',
      '  {"name": "broken", "answer": "no examples"}',
      ']}',
    ].join('\n');
    await page.setInputFiles('#intent-import', { name: 'shop.json', mimeType: 'application/json', buffer: Buffer.from(file) });
    const dlg = page.locator('dialog[open]');
    await dlg.locator('ul.problems li').first().waitFor();
    const problems = await dlg.locator('ul.problems li').allTextContents();
    assert.deepEqual(problems.length, 1, problems.join(' | '));
    assert.match(problems[0], /line 5.*broken.*skipped: .*needs an answer|line 5.*broken.*skipped: .*no examples/);
    assert.match(await dlg.textContent(), /replaced by the 3 in shop\.json/);
    await screenshot(page, 'admin-import-problems');
    await page.click('#dlg-ok');
    await poll(async () => (await page.locator('#intent-rows th.name').allTextContents()).join(',') === 'shipping,delivery_time,returns', { what: 'imported intents listed' });
    const examples = await api(page, 'GET', '/v1/admin/intents');
    assert.equal(examples.data.intents[0].examples[1], 'when will my package arrive', 'the newline became a space');

    await page.click('#quality-check');
    await page.locator('#quality-result ul.quality-list li').first().waitFor();
    const weak = await page.locator('#quality-result ul.quality-list li').allTextContents();
    assert.ok(weak.some((w) => /delivery_time|shipping/.test(w) && /Overlaps with (shipping|delivery_time)/.test(w)), weak.join(' | '));
    await screenshot(page, 'admin-intents-quality');
    await page.close();
  });

  it('wrong passwords: one message for every failure, then the throttle even with the right password', async () => {
    const admin = await context.newPage();
    assert.equal(await signIn(admin, relay), '');
    assert.equal((await api(admin, 'POST', '/v1/admin/agents', { username: 'lou', name: 'Lou', password: 'lou-password-ok', capacity: 1 })).status, 201);
    const gone = await api(admin, 'POST', '/v1/admin/agents', { username: 'gone', name: 'Gone', password: 'gone-password-ok', capacity: 1 });
    assert.equal((await api(admin, 'PATCH', `/v1/admin/agents/${gone.data.id}`, { disabled: true })).status, 200);
    await admin.close();

    const page = await context.newPage();
    await page.goto(`${relay.url}/admin/`);
    const unknown = await signIn(page, relay, 'nobody-at-all', 'whatever-password');
    const disabled = await signIn(page, relay, 'gone', 'gone-password-ok');
    assert.equal(unknown, 'Wrong user name or password.');
    assert.equal(disabled, unknown, 'a disabled account gets the same message');
    for (let i = 1; i <= 5; i++) {
      assert.equal(await signIn(page, relay, 'lou', `wrong-password-${i}`), unknown, `failure ${i}`);
    }
    const sixth = await signIn(page, relay, 'lou', 'lou-password-ok');
    assert.match(sixth, /Too many failed sign-ins/);
    assert.ok(await page.locator('#app').isHidden());
    await screenshot(page, 'admin-login-throttled');
    // The admin, on another account, is not locked out by Lou's failures.
    assert.equal(await signIn(page, relay), '');
    await page.close();
  });
});
