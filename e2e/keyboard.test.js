// Screen readers and the keyboard: each message announced once (and a
// reply while the chat is closed, politely), the full-screen panel a modal
// that keeps Tab inside and gives focus back to the launcher, brand colours
// drawn with readable text; the console by keyboard alone, at 200 % zoom
// and at 320 px, with new chats announced.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, freeze, W } from './lib/harness.js';
import { assertAccessible } from './lib/axe.js';
import { C, ADMIN, visitorConversation } from './lib/console.js';

// The model answers in markdown; the widget shows, and says, its words.
const AI_MD = 'Our lanterns are made of **paper** and *bamboo*.';
const AI = 'Our lanterns are made of paper and bamboo.';

// record starts keeping what the widget's live region says (the panel,
// which holds it, has loaded).
const record = (page) => page.evaluate(() => {
  const region = document.querySelector('kefu-widget').shadowRoot.querySelector('[aria-live=polite]');
  window.__spoken = [];
  new MutationObserver((ms) => { for (const m of ms) for (const n of m.addedNodes) window.__spoken.push(n.textContent); })
    .observe(region, { childList: true });
});

// focused names the element that has the keyboard focus, inside the widget's shadow root too.
const focused = (page) => page.evaluate(() => {
  const a = document.activeElement;
  const inner = a && a.shadowRoot ? a.shadowRoot.activeElement : null;
  const e = inner || a;
  return { host: a ? a.tagName : '', inPanel: !!(inner && inner.closest('.p')), tag: e ? e.tagName : '', cls: e ? String(e.className || '') : '', label: e ? e.getAttribute('aria-label') || e.textContent.trim().slice(0, 30) : '' };
});

suite('screen readers and keyboard', () => {
  let relay, site, fake;
  before(async () => {
    fake = await startFakeOpenAI({ scenario: 'normal', text: AI_MD, delay: '30ms' });
    relay = await startRelay({ args: ['--agent-offline-grace', '1h'], env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
  });

  it('each message is announced once; a reply while the chat is closed is announced too', async (t) => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('spoken', {}));
    await W.open(page);
    await record(page);
    await W.waitMark(page, 'wasm-ready', 30_000).catch(() => {}); // instant answers when wasm is there; relay answers otherwise
    // An FAQ answer (instant in the browser, then stored by the relay).
    await W.send(page, 'How long does shipping take?');
    const faq = await poll(async () => (await W.stored(page)).find((m) => m.cls.includes('bo')), { what: 'the FAQ answer, stored' });
    // An AI answer, streamed token by token, then stored.
    await W.send(page, 'What are your lanterns made of?');
    await poll(async () => (await W.stored(page)).some((m) => m.text === AI), { what: 'the AI answer, stored' });
    // The widget's own list is not a live region (it redraws messages).
    assert.equal(await page.locator('kefu-widget .m').getAttribute('aria-live'), 'off');

    // Closed: the next answer is announced as a new message, politely. The
    // upstream is frozen until the panel is closed, so the answer cannot
    // come while it is open however slow the box (a 2 s head start was a
    // bet: at load 30 a 30 ms-per-chunk answer had come first).
    const thaw = freeze(t, fake.proc);
    await W.send(page, 'And the cushions?');
    await W.launcher(page).click();
    await W.panel(page).waitFor({ state: 'hidden' });
    thaw();
    let spoken = [];
    await poll(async () => {
      spoken = await page.evaluate(() => window.__spoken);
      return spoken.filter((x) => x.includes(AI)).length >= 2;
    }, { what: 'the second AI answer announced' }).catch((e) => { throw new Error(`${e.message}; said: ${JSON.stringify(spoken)}`); });
    const count = (text) => spoken.filter((s) => s.includes(text)).length;
    assert.equal(count('How long does shipping take?'), 1, `the visitor's message: ${JSON.stringify(spoken)}`);
    assert.equal(count(faq.text), 1, `the FAQ answer: ${JSON.stringify(spoken)}`);
    assert.equal(count('What are your lanterns made of?'), 1);
    assert.equal(count('And the cushions?'), 1);
    assert.equal(count(AI), 2, 'each AI answer once, complete, never its growing parts');
    assert.ok(spoken.every((s) => !s.startsWith('Our lanterns') || s === AI || s.endsWith(AI)), 'no partial stream announced');
    assert.match(spoken.at(-1), /^New message from AI: /, `while closed: ${spoken.at(-1)}`);
    assert.equal(new Set(spoken).size, spoken.length, `nothing said twice: ${JSON.stringify(spoken)}`);
    assert.ok(spoken.every((s) => !s.includes('**')), `markdown said as words, not marks: ${JSON.stringify(spoken)}`);
    await context.close();
  });

  it('full screen (a phone): a modal dialog, Tab stays inside, Escape gives focus back to the launcher', async () => {
    const context = await launch({ viewport: { width: 390, height: 740 }, isMobile: true, hasTouch: true });
    const page = await context.newPage();
    await page.goto(site.add('phone', { body: '<main><h1>Shop</h1><a href="#a">A link in the page</a></main>' }));
    await W.waitMark(page, 'panel');
    // Keyboard only: Tab to the launcher (after the page's link), Enter.
    for (let i = 0; i < 5 && (await focused(page)).cls !== 'l'; i++) await page.keyboard.press('Tab');
    assert.equal((await focused(page)).cls, 'l', 'the launcher is reached by Tab');
    await page.keyboard.press('Enter');
    await W.panel(page).waitFor({ state: 'visible' });
    assert.equal(await W.panel(page).getAttribute('aria-modal'), 'true');
    assert.equal((await focused(page)).tag, 'TEXTAREA', 'opening focuses the message box');
    await page.keyboard.type('Hello from the keyboard');
    await page.keyboard.press('Enter');
    await poll(async () => (await W.stored(page)).some((m) => m.text === 'Hello from the keyboard'), { what: 'the message sent by keyboard' });
    const seen = new Set();
    for (const key of [...Array(10).fill('Tab'), ...Array(10).fill('Shift+Tab')]) {
      await page.keyboard.press(key);
      const f = await focused(page);
      assert.ok(f.inPanel, `${key} left the full-screen panel: focus on ${JSON.stringify(f)}`);
      seen.add(f.label || f.tag);
    }
    assert.ok(seen.size >= 3, `Tab visits the panel's controls: ${[...seen]}`);
    await screenshot(page, 'keyboard-phone-panel');
    await page.keyboard.press('Escape');
    await W.panel(page).waitFor({ state: 'hidden' });
    assert.equal((await focused(page)).cls, 'l', 'focus is back on the launcher');
    assert.equal(await W.panel(page).getAttribute('aria-modal'), 'false');
    await context.close();

    // On a wide screen the panel sits beside the page: not modal, Tab moves on.
    const wide = await launch();
    const p2 = await wide.newPage();
    await p2.goto(site.add('wide', {}));
    await W.open(p2);
    assert.equal(await W.panel(p2).getAttribute('aria-modal'), 'false');
    await wide.close();
  });

  it('brand colours: text and icons black or white by contrast, focus rings and borders at least 3:1', async () => {
    const context = await launch();
    const cases = [
      { color: '#f59e0b', fg: 'rgb(0, 0, 0)' }, // amber: white text would be 2.15:1
      { color: '#facc15', fg: 'rgb(0, 0, 0)' }, // yellow: 1.53:1
      { color: '#2563eb', fg: 'rgb(255, 255, 255)' }, // the default blue
      { color: '#1e293b', fg: 'rgb(255, 255, 255)' },
    ];
    for (const scheme of ['light', 'dark']) {
      for (const c of cases) {
        const page = await context.newPage();
        await page.emulateMedia({ colorScheme: scheme });
        await page.goto(site.add(`brand-${c.color.slice(1)}`, { attrs: { color: c.color } }));
        await W.open(page);
        await W.send(page, 'hi');
        await poll(() => page.locator('kefu-widget .ms .g.vi').count(), { what: 'the visitor bubble' });
        const got = await page.evaluate(() => {
          const r = document.querySelector('kefu-widget').shadowRoot;
          const col = (sel, prop = 'color') => getComputedStyle(r.querySelector(sel))[prop];
          r.querySelector('textarea').focus();
          return {
            launcher: col('.l'), header: col('.h'), bubble: col('.vi .t'), send: col('.sd'),
            ring: col('textarea', 'outlineColor'), border: col('textarea', 'borderTopColor'), panel: col('.p', 'backgroundColor'),
          };
        });
        for (const part of ['launcher', 'header', 'bubble', 'send']) assert.equal(got[part], c.fg, `${c.color} ${scheme}: ${part} text`);
        const ratio = await page.evaluate(([a, b]) => {
          const p = (s) => s.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
          const lum = (x) => p(x).reduce((s, v, i) => { v /= 255; return s + [0.2126, 0.7152, 0.0722][i] * (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); }, 0);
          const [x, y] = [lum(a), lum(b)];
          return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
        }, [got.ring, got.panel]);
        assert.ok(ratio >= 3, `${c.color} ${scheme}: focus ring ${got.ring} on ${got.panel} is ${ratio.toFixed(2)}:1`);
        const border = await page.evaluate(([a, b]) => {
          const p = (s) => s.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
          const lum = (x) => p(x).reduce((s, v, i) => { v /= 255; return s + [0.2126, 0.7152, 0.0722][i] * (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); }, 0);
          const [x, y] = [lum(a), lum(b)];
          return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
        }, [got.border, got.panel]);
        assert.ok(border >= 3, `${scheme}: message box border ${got.border} on ${got.panel} is ${border.toFixed(2)}:1`);
        if (c.color === '#f59e0b') await screenshot(page, `brand-amber-${scheme}`);
        await page.close();
      }
    }
    await context.close();
  });

  it('console by keyboard alone: sign in, hear a new chat, open it, reply', async () => {
    const visitor = await launch();
    const shop = await visitor.newPage();
    await shop.goto(site.add('kbd-console', {}));

    const context = await launch();
    const con = await C.open(context, relay);
    await con.locator('#signin-form').waitFor({ state: 'visible' });
    await con.focus('#username');
    await con.keyboard.type(ADMIN.username);
    await con.keyboard.press('Tab');
    await con.keyboard.type(ADMIN.password);
    await con.keyboard.press('Enter');
    await con.locator('#app').waitFor({ state: 'visible' });
    await con.waitForFunction(() => document.querySelector('#conn')?.dataset.state === 'open');
    await con.evaluate(() => {
      window.__said = [];
      new MutationObserver((ms) => { for (const m of ms) for (const n of m.addedNodes) window.__said.push(n.textContent); })
        .observe(document.querySelector('#announce'), { childList: true });
    });

    // A visitor asks for a person: the console says so.
    await W.open(shop);
    await W.send(shop, 'I want to talk to a person');
    const conv = await poll(() => visitorConversation(shop), { what: 'the conversation' });
    const said = await poll(async () => (await con.evaluate(() => window.__said)).find((s) => /New chat for you|A visitor is waiting/.test(s)), { what: 'the new chat announced' });
    assert.match(said, /I want to talk to a person/);

    // The conversation button's name is what it shows (no aria-label).
    const entry = C.entry(con, conv);
    await entry.waitFor();
    assert.equal(await entry.getAttribute('aria-label'), null);
    // Tab from the top of the page to the conversation, Enter opens it.
    await con.evaluate(() => document.activeElement?.blur());
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      await con.keyboard.press('Tab');
      reached = await con.evaluate((id) => document.activeElement?.dataset?.conv === id, conv);
    }
    assert.ok(reached, 'the conversation is reached by Tab');
    await con.keyboard.press('Enter');
    await con.locator('#conv').waitFor({ state: 'visible' });
    await poll(() => con.evaluate(() => document.activeElement?.id === 'reply'), { what: 'focus in the reply box after Enter' });
    await con.keyboard.type('Hello, I can help.');
    await con.keyboard.press('Enter');
    await poll(async () => (await W.texts(shop)).includes('Hello, I can help.'), { what: 'the reply at the visitor' });
    await context.close();
    await visitor.close();
  });

  it('console at 200 % zoom (1280×720) and at 320 px: history readable, nothing cut off, replies by keyboard', async () => {
    const visitor = await launch();
    const shop = await visitor.newPage();
    await shop.goto(site.add('zoom-console', {}));
    await W.open(shop);
    await W.send(shop, 'I want to talk to a person');
    const conv = await poll(() => visitorConversation(shop), { what: 'the conversation' });

    for (const v of [
      { name: '200 % of 1280×720', viewport: { width: 640, height: 360 }, deviceScaleFactor: 2 },
      { name: '320 px (400 % of 1280×1024)', viewport: { width: 320, height: 256 }, deviceScaleFactor: 4 },
      { name: '320 px phone', viewport: { width: 320, height: 568 }, deviceScaleFactor: 2 },
    ]) {
      const context = await launch({ viewport: v.viewport, deviceScaleFactor: v.deviceScaleFactor });
      const con = await C.open(context, relay);
      await C.signIn(con, ADMIN);
      await C.select(con, conv);
      await poll(async () => (await C.history(con)).length >= 2, { what: `${v.name}: the history` });
      const m = await con.evaluate(() => ({
        history: document.querySelector('#history').getBoundingClientRect().height,
        scrollX: document.documentElement.scrollWidth - innerWidth,
        widest: Math.max(...[...document.querySelectorAll('#app *')].filter((e) => e.getClientRects().length && !e.closest('#history, .sr-only'))
          .map((e) => e.getBoundingClientRect().right)) - innerWidth,
      }));
      assert.ok(m.history >= Math.min(150, v.viewport.height * 0.55), `${v.name}: ${m.history} px of history`);
      assert.ok(m.scrollX <= 1, `${v.name}: the page scrolls sideways by ${m.scrollX} px`);
      assert.ok(m.widest <= 1, `${v.name}: something sticks out ${m.widest} px on the right`);
      // The reply box is reached and seen.
      await con.focus('#reply');
      const box = await con.locator('#reply').boundingBox();
      assert.ok(box && box.y >= 0 && box.y + box.height <= v.viewport.height + 1, `${v.name}: the reply box is on screen when focused: ${JSON.stringify(box)}`);
      const text = `Reply at ${v.viewport.width}×${v.viewport.height}`;
      await con.keyboard.type(text);
      await con.keyboard.press('Enter');
      await poll(async () => (await C.history(con)).some((h) => h.text === text), { what: `${v.name}: the reply stored` });
      await assertAccessible(con, `console at ${v.name}`);
      await screenshot(con, `console-zoom-${v.viewport.width}x${v.viewport.height}`);
      await context.close();
    }
    await visitor.close();
  });
});
