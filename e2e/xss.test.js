// Nothing typed by a visitor, an agent or the model is ever executed as
// HTML: payloads render as their literal text, run no script and load
// nothing. The model side is covered with the fake upstream's echo
// scenario, which streams the visitor's text back as the AI answer.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, startFakeOpenAI, launch, screenshot, poll, W } from './lib/harness.js';

suite('XSS payloads render as text', () => {
  let relay, site, context, beacon;
  const hits = [];
  before(async () => {
    const fake = await startFakeOpenAI({ scenario: 'echo', delay: '5ms' });
    relay = await startRelay({ env: { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: 'sk-test' } });
    site = await startSite(relay);
    beacon = `${site.origin}/xss-beacon`;
    context = await launch();
    context.on('request', (r) => { if (/xss-beacon|evil\.example/.test(r.url())) hits.push(r.url()); });
  });

  const payloads = () => [
    `<script>window.__xss='script'</script>`, // first: the AI echoes it (the relay's filter drops <img> from model output)
    `<img src="${beacon}?img" onerror="window.__xss='img'">`,
    `<a href="javascript:window.__xss='link'">click</a>`,
    `<svg onload="window.__xss='svg'"><image href="${beacon}?svg"/></svg>`,
    `<iframe src="${beacon}?iframe" onload="window.__xss='iframe'"></iframe>`,
    `<style>@import url("${beacon}?css");*{display:none}</style>`,
    `"><img src=x onerror=window.__xss='attr'>`,
    `<details open ontoggle="window.__xss='details'">`,
    `![tracker](${beacon}?markdown) [[link]](javascript:window.__xss='md')`,
    `{{constructor.constructor('window.__xss="tpl"')()}} \${window.__xss='tpl2'}`,
  ];

  it('visitor payloads (and the model echoing them) stay literal text', async () => {
    const page = await context.newPage();
    await page.goto(site.add('shop', {}));
    await W.open(page);
    const list = payloads();
    for (const p of list) await W.send(page, p);
    // Every payload comes back as the visitor's stored message, and the
    // echo model repeats the first one as a streamed AI answer.
    await poll(async () => {
      const stored = await W.stored(page);
      return list.every((p) => stored.some((m) => m.text === p && m.cls.includes('vi')));
    }, { timeout: 20_000, what: 'all payloads stored and shown' });
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('bo') && m.text.includes('window.__xss')), { timeout: 20_000, what: 'AI echo of a payload' });

    assert.equal(await page.evaluate(() => window.__xss), undefined, 'no payload ran');
    // Only our own elements exist inside the message list.
    // Answers go through the strict markdown renderer: its elements, and
    // links only to http(s)/mailto, in a new tab, without an opener.
    const { tags, links } = await page.evaluate(() => {
      const root = document.querySelector('kefu-widget').shadowRoot;
      return {
        tags: [...new Set([...root.querySelectorAll('.m *')].map((e) => e.tagName))].sort(),
        links: [...root.querySelectorAll('.m a')].map((a) => ({ href: a.href, target: a.target, rel: a.rel })),
      };
    });
    const allowed = new Set(['DIV', 'P', 'A', 'EM', 'STRONG', 'CODE', 'PRE', 'UL', 'OL', 'LI']);
    assert.deepEqual(tags.filter((t) => !allowed.has(t)), [], `only the widget's and the renderer's elements: ${tags}`);
    for (const l of links) {
      assert.match(l.href, /^(https?|mailto):/, `link ${l.href}`);
      assert.equal(l.target, '_blank');
      assert.equal(l.rel, 'noopener noreferrer');
    }
    assert.equal(await page.locator('img, iframe, svg image, details').count(), 0, 'no element made from a payload, in the page or the widget');
    await page.locator('kefu-widget .m .g .t').first().click(); // clicking a "link" does nothing
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.deepEqual(hits, [], 'no request left for a payload URL');
    assert.ok(!site.requests.some((u) => u.includes('xss-beacon')));
    await screenshot(page, 'xss-payloads-as-text');
    await page.close();
  });
});
