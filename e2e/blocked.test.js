// A site missing from "Allowed sites", as a business meets it in its first
// hour: the widget says so in the visitor's language instead of a dead
// launcher, the admin page names the blocked site, one click and a save
// allow it, and the chat then works there.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, watch, W } from './lib/harness.js';
import { signIn, widgetTab } from './lib/admin.js';

const note = (page) => page.locator('kefu-widget .e');

suite('site not in the allowed sites', () => {
  let relay, site, context;
  before(async () => {
    // The relay's own list names another site only.
    relay = await startRelay({ args: ['--allowed-origins', 'www.lantern.example'] });
    site = await startSite(relay);
    context = await launch();
  });

  it('the widget says why it cannot chat, in the visitor\'s language (English, Chinese, German, Arabic)', async () => {
    const host = new URL(site.origin).host;
    for (const [lang, first, second] of [
      ['en', 'Chat is not available on this site yet.', `Site owner: add ${host} to Allowed sites in the Kefu admin (Widget tab).`],
      ['zh', '此网站尚未开通在线客服。', `站长：请在 Kefu 管理后台 Widget → Allowed sites 中加入 ${host}。`],
      ['de', 'Der Chat ist auf dieser Website noch nicht verfügbar.', `Für den Websitebetreiber: Fügen Sie ${host} im Kefu-Admin (Tab Widget) unter Allowed sites hinzu.`],
      ['ar', 'المحادثة غير متاحة على هذا الموقع بعد.', `إلى مالك الموقع: أضف ${host} إلى Allowed sites في لوحة إدارة Kefu (تبويب Widget).`],
    ]) {
      const page = await context.newPage();
      const log = watch(page);
      await page.goto(site.add(`blocked-${lang}`, { attrs: { lang } }));
      await page.evaluate(() => window.Kefu.on('unavailable', (d) => { window.__unavailable = d; }));
      await W.launcher(page).click();
      await note(page).waitFor({ state: 'visible' });
      assert.deepEqual(await page.evaluate(() => window.__unavailable), { code: 'origin_not_allowed' }, 'the page is told too');
      assert.deepEqual(await note(page).locator('p').allTextContents(), [first, second]);
      assert.equal(await note(page).getAttribute('role'), 'alert', 'read out by screen readers');
      assert.deepEqual(await page.locator('kefu-widget .k').evaluate((k) => [k.lang, k.dir]), [lang, lang === 'ar' ? 'rtl' : 'ltr']);
      assert.equal(await W.panel(page).count(), 0, 'no panel loaded for a refused site');
      assert.ok(log.some((l) => l.includes(`${site.origin} is not in the relay's allowed sites`)), `a developer's hint in the console: ${log.join(' | ')}`);
      await screenshot(page, `blocked-site-${lang}`);
      // The launcher closes the message again.
      await W.launcher(page).click();
      await note(page).waitFor({ state: 'hidden' });
      await page.close();
    }
  });

  it('the admin page names the blocked site; allowing it lets its pages chat', async () => {
    const admin = await context.newPage();
    assert.equal(await signIn(admin, relay), '');
    // A banner on every tab, naming the site.
    await admin.locator('#refused-banner').waitFor({ state: 'visible' });
    assert.match(await admin.locator('#refused-text').textContent(), new RegExp(`refused on ${site.origin.replaceAll('.', '\\.')}`));
    await screenshot(admin, 'blocked-site-admin-banner');
    // The list of refused sites shows at once (the banner's data), but
    // the form is filled when the tab's settings come: Allow must wait for
    // them, or they overwrite the site it added (a loaded box's order).
    await widgetTab(admin, '#refused-review');
    await admin.locator('#w-refused').waitFor({ state: 'visible' });
    const item = admin.locator('#w-refused-list li', { hasText: site.origin });
    assert.match(await item.textContent(), /\d+ times?, last/);
    await screenshot(admin, 'blocked-site-admin-widget');
    // Allow keeps the relay's own list (a saved list replaces it) and adds the site.
    await item.locator('button', { hasText: 'Allow' }).click();
    const host = new URL(site.origin).host;
    assert.deepEqual((await admin.inputValue('#w-sites')).split('\n'), ['www.lantern.example', host]);
    await admin.click('#widget-form button[type=submit]');
    await admin.locator('#w-refused').waitFor({ state: 'hidden' });
    await admin.locator('#refused-banner').waitFor({ state: 'hidden' });

    const page = await context.newPage();
    await page.goto(site.add('allowed-now', {}));
    await W.open(page);
    await W.send(page, 'How long does shipping take?');
    await poll(async () => (await W.stored(page)).some((m) => m.cls.includes('bo')), { what: 'an answer on the newly allowed site' });
    assert.equal(await note(page).isHidden(), true);
  });

  it('a relay that does not answer: "unavailable right now", not a dead launcher', async () => {
    const page = await context.newPage();
    // The loader came from the cache; the relay is unreachable now.
    await page.route('**/v1/widget/{config,messages}*', (r) => r.abort('connectionrefused'));
    await page.goto(site.add('unreachable', {}));
    await page.evaluate(() => window.Kefu.on('unavailable', (d) => { window.__unavailable = d; }));
    await W.launcher(page).click();
    await note(page).waitFor({ state: 'visible' });
    assert.deepEqual(await note(page).locator('p').allTextContents(), ['Chat is unavailable right now. Please try again later.']);
    assert.deepEqual(await page.evaluate(() => window.__unavailable), { code: 'unreachable' });
    // Once the relay answers again (the site is allowed by now), the next click opens the chat.
    await page.unroute('**/v1/widget/{config,messages}*');
    await W.launcher(page).click(); // closes the message
    await W.open(page);
    assert.equal(await note(page).isHidden(), true);
    await page.close();
  });
});
