// The widget on a customer page from another origin whose CSS tries to
// break everything: it must stay visible, sized, on top and usable, and
// must not change the page or its globals.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, watch, poll, W, HOSTILE_CSS } from './lib/harness.js';

suite('hostile host page', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  it('launcher is visible at once, 56×56, bottom-right and on top of huge z-indexes', async () => {
    const url = site.add('hostile', {
      css: HOSTILE_CSS,
      head: '<script>window.__before = Object.getOwnPropertyNames(window);</script>',
      body: '<main><h1 id="h">Hostile shop</h1><p id="p">Text the widget must not move.</p></main><div class="cover"></div><div class="modal">cookie banner</div>',
    });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(url);
    const launcher = W.launcher(page);
    await launcher.waitFor({ state: 'visible', timeout: 5000 });
    const box = await launcher.boundingBox();
    assert.equal(Math.round(box.width), 56, 'launcher width');
    assert.equal(Math.round(box.height), 56, 'launcher height');
    assert.equal(Math.round(1280 - box.x - box.width), 20, 'launcher 20px from the right edge');
    assert.equal(Math.round(800 - box.y - box.height), 20, 'launcher 20px from the bottom edge');
    // Topmost: the element at the launcher's centre is our host, above the
    // page's z-index 999999999 cover and the 2147482000 cookie banner.
    const top = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.tagName, { x: box.x + 28, y: box.y + 28 });
    assert.equal(top, 'KEFU-WIDGET');
    const style = await launcher.evaluate((b) => {
      const s = getComputedStyle(b);
      return { visibility: s.visibility, opacity: s.opacity, display: s.display, position: s.position, radius: s.borderRadius, bg: s.backgroundColor };
    });
    assert.deepEqual(style, { visibility: 'visible', opacity: '1', display: 'flex', position: 'fixed', radius: '50%', bg: 'rgb(37, 99, 235)' });
    const svgShown = await page.locator('kefu-widget button.l svg.o').evaluate((s) => getComputedStyle(s).display);
    assert.equal(svgShown, 'block', "the page's `svg { display: none }` does not reach the icon");
    assert.match(await launcher.getAttribute('aria-label'), /Open chat/);
    await screenshot(page, 'hostile-launcher');

    // The page keeps its globals and layout: only window.Kefu is new.
    await W.waitMark(page, 'panel');
    const added = await page.evaluate(() => Object.getOwnPropertyNames(window).filter((n) => !window.__before.includes(n) && n !== '__before'));
    assert.deepEqual(added, ['Kefu']);
    assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), []);
  });

  it('the panel opens over the hostile page, is a labelled dialog and keyboard-usable', async () => {
    const page = context.pages().at(-1);
    await W.open(page);
    const panel = W.panel(page);
    assert.equal(await panel.getAttribute('role'), 'dialog');
    const box = await panel.boundingBox();
    assert.equal(Math.round(box.width), 370);
    assert.ok(box.height >= 400, `panel height ${box.height}`);
    // Messages are read out once, through the widget's one live region
    // (outside the panel); the list itself is a log that does not speak.
    assert.equal(await page.locator('kefu-widget .m').getAttribute('aria-live'), 'off');
    assert.equal(await page.locator('kefu-widget .k > [role=log][aria-live=polite]').count(), 1);
    // Focus is in the composer; text typed there stays in our textarea.
    const focused = await page.evaluate(() => document.querySelector('kefu-widget').shadowRoot.activeElement?.tagName);
    assert.equal(focused, 'TEXTAREA');
    const font = await W.input(page).evaluate((t) => getComputedStyle(t).fontFamily);
    assert.doesNotMatch(font, /Comic/, 'host fonts do not leak in');
    await screenshot(page, 'hostile-panel-open');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'hidden' });
    const back = await page.evaluate(() => document.querySelector('kefu-widget').shadowRoot.activeElement?.className);
    assert.equal(back, 'l', 'focus returns to the launcher');
    assert.equal(await W.launcher(page).getAttribute('aria-expanded'), 'false');
    // Keyboard only: Enter on the focused launcher opens it again.
    await page.keyboard.press('Enter');
    await panel.waitFor({ state: 'visible' });
    assert.equal(await W.launcher(page).getAttribute('aria-expanded'), 'true');
    await page.close();
  });

  it('data-* options: title, colour, left position, z-index', async () => {
    const url = site.add('options', {
      attrs: { title: 'Ask Ada', color: '#16a34a', position: 'left', 'z-index': '10', lang: 'en' },
      body: '<div style="position:fixed;left:0;bottom:0;width:200px;height:200px;z-index:20;background:#fcc"></div>',
    });
    const page = await context.newPage();
    await page.goto(url);
    const launcher = W.launcher(page);
    await launcher.waitFor({ state: 'visible' });
    const box = await launcher.boundingBox();
    assert.equal(Math.round(box.x), 20, 'left position');
    assert.match(await launcher.getAttribute('aria-label'), /Ask Ada/);
    assert.equal(await launcher.evaluate((b) => getComputedStyle(b).backgroundColor), 'rgb(22, 163, 74)');
    // z-index 10 is configurable: the page's z-index 20 box now covers it.
    const top = await page.evaluate(({ x, y }) => document.elementFromPoint(x, y)?.tagName, { x: box.x + 28, y: box.y + 28 });
    assert.equal(top, 'DIV');
    await screenshot(page, 'options-left-green-z10');
    await page.close();
  });

  it('mobile: the panel fills the screen', async () => {
    const page = await context.newPage();
    await page.setViewportSize({ width: 375, height: 667 });
    await page.goto(site.add('mobile', { css: HOSTILE_CSS }));
    await W.open(page);
    const box = await W.panel(page).boundingBox();
    assert.deepEqual([box.x, box.y, box.width, box.height].map(Math.round), [0, 0, 375, 667]);
    await screenshot(page, 'mobile-panel');
    await page.close();
  });

  it('window.Kefu: open, close, toggle, on, and calls queued before the loader', async () => {
    const url = site.add('api', {
      head: `<script>window.Kefu = { q: [['on', 'ready', (d) => { window.__ready = d; }], ['on', 'open', () => { window.__opened = (window.__opened || 0) + 1; }]] };</script>`,
    });
    const page = await context.newPage();
    await page.goto(url);
    await poll(() => page.evaluate(() => !!window.__ready), { what: 'ready event' });
    await page.evaluate(() => { window.__closed = 0; window.Kefu.on('close', () => { window.__closed++; }); window.Kefu.open(); });
    await W.panel(page).waitFor({ state: 'visible' });
    await page.evaluate(() => window.Kefu.toggle());
    await W.panel(page).waitFor({ state: 'hidden' });
    await page.evaluate(() => window.Kefu.toggle());
    await W.panel(page).waitFor({ state: 'visible' });
    await page.evaluate(() => window.Kefu.close());
    await W.panel(page).waitFor({ state: 'hidden' });
    assert.deepEqual(await page.evaluate(() => [window.__opened, window.__closed]), [2, 2]);
    // Nothing was stored before the visitor interacted... but opening is interacting;
    // still, no conversation exists until something is sent.
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('kefu:'))), []);
    await page.evaluate(() => window.Kefu.shutdown());
    assert.equal(await page.locator('kefu-widget').count(), 0);
    await page.close();
  });

  it('nothing is stored and no socket opens on a page view', async () => {
    const page = await context.newPage();
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(site.add('quiet', {}));
    await W.waitMark(page, 'panel');
    await page.waitForTimeout(300); // a socket would open right after the panel started
    assert.deepEqual(sockets, []);
    assert.deepEqual(await page.evaluate(() => Object.keys(localStorage)), []);
    await page.close();
  });
});
