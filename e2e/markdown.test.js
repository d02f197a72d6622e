// The strict markdown renderer (widget/shared/markdown.js) in the three
// places it draws: the widget (the model's answers, agents' replies), the
// agent console and the admin page's transcript. Markdown and link
// payloads render as a few safe elements or as text: none runs, none
// loads anything, every link is http(s) or mailto, opens a new tab and
// carries rel="noopener noreferrer".
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, W } from './lib/harness.js';
import { C, ADMIN, visitorConversation } from './lib/console.js';
import { adminFetch } from './lib/admin.js';

// mdPayloads aims at the ways markdown turns into markup or a link.
export const mdPayloads = (b) => [
  `[a](javascript:window.__xss='md1')`,
  `[a](JaVaScRiPt:window.__xss='md2')`,
  `[a](java\tscript:window.__xss='md3')`,
  `[a]( javascript:window.__xss='md4')`,
  `[a](&#106;avascript:window.__xss='md5')`,
  `[a](javascript&#58;window.__xss='md6')`,
  `[a](%6Aavascript:window.__xss='md7')`,
  `[a](vbscript:window.__xss='md8')`,
  `[a](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3M9J21kOSc8L3NjcmlwdD4=)`,
  `[a](file:///etc/passwd)`,
  `[a](//evil.example/x)`,
  `[[nested](javascript:window.__xss='md12')](${b}?nested)`,
  `[a](<javascript:window.__xss='md13'>)`,
  `[a](javascript:window.__xss='md14' "title")`,
  `[a][ref]\n\n[ref]: javascript:window.__xss='md15'`,
  `<javascript:window.__xss='md16'>`,
  `<${b}?autolink>`,
  `![x](${b}?img1)`,
  `![x](javascript:window.__xss='md19')`,
  `[![x](${b}?img2)](${b}?imglink)`,
  '`<img src=x onerror=window.__xss=\'code\'>`',
  '```\n<script>window.__xss=\'fence\'</script>\n```',
  '``<b>`</b>``',
  `**<img src=x onerror=window.__xss='strong'>**`,
  `*<svg onload=window.__xss='em'>*`,
  `_<iframe src=${b}?em2>_`,
  `- <script>window.__xss='li'</script>\n- [b](javascript:window.__xss='li2')`,
  `1. <a href="javascript:window.__xss='ol'">x</a>`,
  `[x](https://ok.example/?q="><img src=x onerror=window.__xss='attr'>)`,
  `[x](https://ok.example/" onmouseover="window.__xss='attr2')`,
  `https://ok.example/"onmouseover="window.__xss='auto'"`,
  `&lt;img src=x onerror=window.__xss='ent'&gt; &#x3C;script&#x3E;window.__xss='ent2'&#x3C;/script&#x3E;`,
  `[a](mailto:shop@example.com?subject=<script>x</script>)`,
  `[\`code\`](https://ok.example/code) **[bold](https://ok.example/bold)** *[em](https://ok.example/em)*`,
  `${'['.repeat(200)}x${'](javascript:y)'.repeat(200)}`,
  `${'*'.repeat(300)}deep${'*'.repeat(300)}`,
];

// inspect checks the rendered markdown under sel in page (open shadow
// roots included): only the renderer's elements, only safe links.
async function inspect(page, sel) {
  return page.evaluate((sel) => {
    const roots = [document, ...[...document.querySelectorAll('*')].map((e) => e.shadowRoot).filter(Boolean)];
    const allowed = new Set(['P', 'EM', 'STRONG', 'CODE', 'PRE', 'UL', 'OL', 'LI', 'A']);
    const bad = [];
    const links = [];
    for (const root of roots) {
      for (const box of root.querySelectorAll(sel)) {
        for (const e of box.querySelectorAll('*')) {
          if (!allowed.has(e.tagName)) bad.push(e.tagName);
          for (const a of e.attributes) if (!['href', 'target', 'rel', 'referrerpolicy'].includes(a.name)) bad.push(`${e.tagName}[${a.name}]`);
          if (e.tagName === 'A') links.push({ href: e.href, target: e.target, rel: e.rel });
        }
      }
    }
    return { bad, links, xss: window.__xss };
  }, sel);
}

function assertSafe(where, got) {
  assert.equal(got.xss, undefined, `${where}: a payload ran`);
  assert.deepEqual(got.bad, [], `${where}: elements or attributes the renderer never makes`);
  for (const l of got.links) {
    assert.ok(['http:', 'https:', 'mailto:'].includes(new URL(l.href).protocol), `${where}: link ${l.href}`);
    assert.equal(l.target, '_blank', `${where}: ${l.href} opens in a new tab`);
    assert.ok(/\bnoopener\b/.test(l.rel) && /\bnoreferrer\b/.test(l.rel), `${where}: ${l.href} rel "${l.rel}"`);
  }
}

suite('markdown renders safely in the widget, the console and the admin page', () => {
  let relay, site, context, fake;
  const hits = [];
  const dialogs = [];
  before(async () => {
    fake = await startFakeOpenAI({ scenario: 'echo', delay: '2ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    context = await launch();
    context.on('request', (r) => { if (/md-beacon|evil\.example|ok\.example/.test(r.url())) hits.push(r.url()); });
    context.on('page', (p) => p.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); }));
  });

  it('the renderer alone: ≥ 30 payloads make only its own elements and safe links', async () => {
    const page = await context.newPage();
    await page.goto(relay.url + '/console/');
    const list = mdPayloads(`${relay.url}/md-beacon`);
    assert.ok(list.length >= 30, `${list.length} payloads`);
    const out = await page.evaluate(async (list) => {
      const url = performance.getEntriesByType('resource').map((e) => e.name).find((n) => n.endsWith('/shared/markdown.js'));
      const md = await import(url);
      const box = document.createElement('div');
      box.id = 'md-probe';
      document.body.append(box);
      const texts = [];
      for (const p of list) {
        const d = document.createElement('div');
        md.renderInto(d, p);
        box.append(d);
        texts.push(d.textContent);
      }
      // What the renderer does with plain markdown.
      const ok = document.createElement('div');
      md.renderInto(ok, 'Hi **there**, see [Returns](https://shop.example/returns) or /help:\n\n- one\n- `two`\n\n1. first', { base: location.origin });
      box.append(ok);
      return { texts, ok: ok.innerHTML };
    }, list);
    assert.equal(out.ok, '<p>Hi <strong>there</strong>, see <a href="https://shop.example/returns" target="_blank" rel="noopener noreferrer">Returns</a> or /help:</p><ul><li>one</li><li><code>two</code></li></ul><ol><li>first</li></ol>');
    assertSafe('renderer', await inspect(page, '#md-probe > div'));
    // Refused links stay as the text that was written.
    assert.ok(out.texts[0].includes('javascript:'), out.texts[0]);
    await page.close();
  });

  it('widget, console and admin page: agent replies and model answers with payloads', async (t) => {
    const list = mdPayloads(`${relay.url}/md-beacon`);
    const shop = await context.newPage();
    await shop.goto(site.add('shop', {}));
    await W.open(shop);
    // The model's side: the echo model repeats a payload bundle as its answer.
    await W.send(shop, `model: ${list.slice(0, 12).join('\n\n')}`);
    await poll(async () => (await W.stored(shop)).some((m) => m.cls.includes('bo') && m.text.startsWith('model:')), { timeout: 30_000, what: 'the model echoed' });
    const conv = await poll(() => visitorConversation(shop), { what: 'conversation id' });

    // The agent's side: every payload as a reply from the console.
    const con = await context.newPage();
    await con.goto(relay.url + '/console/');
    await C.signIn(con, ADMIN);
    await C.select(con, conv);
    await con.click('#take');
    for (const p of list) {
      await C.reply(con, p);
      await poll(async () => (await C.pending(con)).length === 0, { what: 'reply acked' });
    }
    await poll(async () => (await W.stored(shop)).filter((m) => m.cls.includes('ag')).length >= list.length, { timeout: 30_000, what: 'the visitor got every reply' });
    assertSafe('widget', await inspect(shop, '.m .t'));
    assertSafe('console', await inspect(con, '#history .text'));

    const admin = await context.newPage();
    // The console's browser: signed in already (a sign-in form never shows).
    await admin.goto(relay.url + '/admin/#conversations/' + conv);
    await admin.locator('#app:not([hidden])').waitFor();
    await admin.locator('#conv-detail .line.agent').nth(list.length - 1).waitFor({ timeout: 20_000 });
    assertSafe('admin', await inspect(admin, '#conv-detail .line-text'));

    for (const p of [shop, con, admin]) assert.equal(await p.evaluate(() => window.__xss), undefined);
    assert.deepEqual(dialogs, [], 'no dialog');
    assert.deepEqual(hits, [], 'nothing loaded from a payload URL');
    t.diagnostic(`${list.length} payloads in widget, console and admin page`);
    await screenshot(shop, 'markdown-widget');
    await screenshot(con, 'markdown-console');
    for (const p of [shop, con, admin]) await p.close();
  });

  it('an answer drawn from a knowledge-base article links to it; the link opens the article', async () => {
    const created = await adminFetch(relay, 'POST', '/v1/admin/kb', {
      title: 'Returns policy',
      body: '# Returns\n\nYou can return any item within **30 days** of delivery for a full refund.\n\nPrint the prepaid return label from your account page.',
    });
    assert.equal(created.status, 201, JSON.stringify(created));
    const id = created.data.id;
    // A new visitor: the earlier one's chat is with a person now.
    const fresh = await launch();
    const shop = await fresh.newPage();
    await shop.goto(site.add('kb', {}));
    await W.open(shop);
    // The echo model repeats the question: an answer made of the article's words.
    await W.send(shop, 'Where do I print the prepaid label from my account page?');
    const link = shop.locator('kefu-widget .m .g.bo .t a', { hasText: 'Returns policy' });
    await link.waitFor({ timeout: 30_000 }).catch(async (e) => { throw new Error(`${e.message}; shown: ${JSON.stringify(await W.stored(shop))}`); });
    assert.equal(await link.getAttribute('href'), `${relay.url}/help/${id}`);
    assert.equal(await link.getAttribute('target'), '_blank');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    await screenshot(shop, 'kb-answer-link');
    const [help] = await Promise.all([fresh.waitForEvent('page'), link.click()]);
    await help.waitForLoadState();
    await poll(async () => (await help.locator('#title').textContent()) === 'Returns policy', { what: 'the help page shows the article' });
    assert.equal(await help.locator('#body strong').textContent(), '30 days');
    await screenshot(help, 'kb-help-page');
    await fresh.close();
  });
});
