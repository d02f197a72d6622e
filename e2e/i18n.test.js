// Languages: the widget speaks the visitor's language from one catalogue
// file per language (widget/i18n), chosen from the shop's setting
// (data-lang, Kefu.setLanguage), the page's lang and the browser's
// languages; right to left for Arabic; only the chosen catalogue loads.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { suite, it, startRelay, startSite, launch, screenshot, watch, poll, W, repo } from './lib/harness.js';

const catalogue = (lang) => JSON.parse(fs.readFileSync(path.join(repo, 'widget/i18n', `${lang}.json`), 'utf8'));
const LANGS = fs.readdirSync(path.join(repo, 'widget/i18n')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));

// shown reads what the widget says: its root's lang and dir, the texts of
// its fixed parts, and any element still showing a key instead of a text.
const shown = (page) => page.evaluate(() => {
  const root = document.querySelector('kefu-widget').shadowRoot;
  const k = root.querySelector('.k');
  const raw = [...root.querySelectorAll('[data-t], [data-tl]')]
    .filter((e) => (e.dataset.t && e.textContent === e.dataset.t) || (e.dataset.tl && e.getAttribute('aria-label') === e.dataset.tl))
    .map((e) => e.dataset.t || e.dataset.tl);
  return {
    lang: k.lang, dir: k.dir,
    launcher: root.querySelector('.l').getAttribute('aria-label'),
    send: root.querySelector('.sd')?.getAttribute('aria-label'),
    placeholder: root.querySelector('textarea')?.placeholder,
    status: root.querySelector('.st')?.textContent,
    title: root.querySelector('.ti')?.textContent,
    greeting: root.querySelector('.gr .t')?.textContent,
    raw,
  };
});

suite('languages', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('every language: the page\'s lang picks the catalogue, every text comes from it, one catalogue is fetched', async () => {
    assert.ok(LANGS.length >= 9, `catalogues: ${LANGS}`);
    const context = await launch({ locale: 'en-US' });
    for (const lang of LANGS) {
      const c = catalogue(lang).widget;
      const page = await context.newPage();
      const errors = watch(page);
      const fetched = [];
      page.on('request', (r) => { if (/\/i18n\//.test(r.url())) fetched.push(new URL(r.url()).pathname.split('/').pop()); });
      // A region subtag, as real pages write it (pt-BR, zh-CN, ar-EG).
      await page.goto(site.add(`page-${lang}`, { lang: `${lang}-XX` }));
      await W.open(page);
      const s = await shown(page);
      assert.equal(s.lang, lang, `${lang}: widget root lang`);
      assert.equal(s.dir, lang === 'ar' ? 'rtl' : 'ltr', `${lang}: widget root dir`);
      assert.deepEqual(s.raw, [], `${lang}: elements showing a key, not a text`);
      assert.equal(s.send, c.send, `${lang}: send button`);
      assert.equal(s.placeholder, c.placeholder, `${lang}: placeholder`);
      assert.equal(s.status, c.bot, `${lang}: status line`);
      assert.equal(s.launcher, c.close, `${lang}: launcher while open`);
      // The shop wrote no texts: the catalogue's default title and greeting.
      assert.equal(s.title, c.title, `${lang}: title`);
      assert.equal(s.greeting, c.greeting, `${lang}: greeting`);
      await W.launcher(page).click();
      assert.equal(await W.launcher(page).getAttribute('aria-label'), `${c.open} — ${c.title}`, `${lang}: launcher while closed`);
      assert.deepEqual(fetched, [`${lang}.json`], `${lang}: catalogues fetched`);
      assert.deepEqual(errors, [], `${lang}: console errors`);
      if (lang === 'ar' || lang === 'de') {
        await W.open(page);
        await screenshot(page, `i18n-${lang}`);
      }
      await page.close();
    }
  });

  it('Arabic is laid out right to left: the visitor\'s bubbles on the left, the shop\'s on the right', async () => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('ar-data', { lang: 'en', attrs: { lang: 'ar' } }));
    await W.open(page);
    await W.send(page, 'مرحبا، أين طلبي؟');
    const box = await poll(async () => {
      const v = await page.locator('kefu-widget .g.vi .t').first().boundingBox();
      const g = await page.locator('kefu-widget .gr .g .t').first().boundingBox();
      const p = await W.panel(page).boundingBox();
      return v && g && p && { v, g, p };
    }, { what: 'the visitor bubble' });
    const mid = box.p.x + box.p.width / 2;
    assert.ok(box.v.x + box.v.width / 2 < mid, `visitor bubble on the left half in rtl: ${JSON.stringify(box)}`);
    assert.ok(box.g.x + box.g.width / 2 > mid, `greeting bubble on the right half in rtl: ${JSON.stringify(box)}`);
    assert.equal((await shown(page)).dir, 'rtl');
    // The relay's hand-off (no AI, nobody online here) speaks the widget's language too.
    // Nobody online and no business hours: "nobody online now", then the
    // request for an email (docs/notifications.md).
    const handoff = `${catalogue('ar').relay.handoffOffline} ${catalogue('ar').relay.handoffContact}`;
    assert.ok(handoff, 'the Arabic catalogue has the relay\'s hand-off text');
    await poll(async () => (await page.locator('kefu-widget .ms .g.sy .t').allTextContents()).includes(handoff), { what: 'the hand-off in Arabic' });
    await screenshot(page, 'i18n-ar-conversation');
  });

  it('the choice: data-lang beats the page\'s lang, which beats the browser; an unknown language is English', async () => {
    const cases = [
      { name: 'browser only', locale: 'fr-FR', page: { lang: null }, want: 'fr' },
      { name: 'page over browser', locale: 'fr-FR', page: { lang: 'es' }, want: 'es' },
      { name: 'data-lang over page', locale: 'fr-FR', page: { lang: 'es', attrs: { lang: 'ko' } }, want: 'ko' },
      { name: 'unknown everywhere', locale: 'fi-FI', page: { lang: 'tlh' }, want: 'en' },
      { name: 'unknown page lang falls through to the browser', locale: 'ja-JP', page: { lang: 'tlh' }, want: 'ja' },
    ];
    for (const c of cases) {
      const context = await launch({ locale: c.locale });
      const page = await context.newPage();
      await page.goto(site.add(`choice-${c.name.replaceAll(' ', '-')}`, c.page));
      await W.waitMark(page, 'panel');
      const s = await shown(page);
      assert.equal(s.lang, c.want, `${c.name}: lang`);
      assert.equal(s.launcher, `${catalogue(c.want).widget.open} — ${catalogue(c.want).widget.title}`, `${c.name}: launcher label`);
      await context.close();
    }
  });

  it('the admin writes a title in Japanese; Kefu.setLanguage switches every text at once, that title included', async () => {
    // The shop translates its title into Japanese, not its greeting.
    const set = await (await fetch(`${relay.url}/v1/widget/config`)).json();
    assert.equal(set.lang, 'en');
    const context = await launch({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${relay.url}/admin/`);
    const { signIn, api, widgetTab } = await import('./lib/admin.js');
    await signIn(page, relay);
    // Written in the widget tab: pick the language, type, save.
    await widgetTab(page);
    await page.selectOption('#w-tr-lang', 'ja');
    assert.equal(await page.getAttribute('#w-tr-title', 'lang'), 'ja');
    assert.equal(await page.getAttribute('#w-tr-title', 'placeholder'), catalogue('ja').widget.title, 'the default the visitor sees meanwhile');
    await page.fill('#w-tr-title', 'ランタン&ルーム');
    await page.selectOption('#w-tr-lang', 'ar');
    assert.equal(await page.getAttribute('#w-tr-greeting', 'dir'), 'rtl');
    await page.click('#widget-form button[type=submit]');
    const cur = await poll(async () => {
      const s = (await api(page, 'GET', '/v1/admin/widget')).data.settings;
      return s.translations?.ja && s;
    }, { what: 'the saved translation' });
    assert.deepEqual(cur.translations, { ja: { title: 'ランタン&ルーム' } });
    assert.match(await page.locator('#w-tr-lang option[value=ja]').textContent(), /written/);
    const bad = await api(page, 'PUT', '/v1/admin/widget', { ...cur, translations: { tlh: { title: 'x' } } });
    assert.equal(bad.status, 400);
    assert.match(bad.data.error.message, /no language "tlh"/);

    await page.goto(site.add('switch', {}));
    await W.open(page);
    await W.send(page, 'hello');
    await poll(() => page.locator('kefu-widget .ms .g.vi').count(), { what: 'the stored message' });
    await page.evaluate(() => window.Kefu.setLanguage('ja'));
    const ja = catalogue('ja').widget;
    const s = await poll(async () => { const x = await shown(page); return x.lang === 'ja' && x; }, { what: 'Japanese' });
    assert.equal(s.title, 'ランタン&ルーム');
    assert.equal(s.greeting, ja.greeting);
    assert.equal(s.send, ja.send);
    assert.equal(s.placeholder, ja.placeholder);
    assert.deepEqual(s.raw, []);
    // The visitor's own message keeps its hidden "You" label, now in Japanese.
    assert.equal(await page.locator('kefu-widget .ms .g.vi .sr').first().textContent(), ja.you);
    await context.close();
  });
});
