// Clickjacking: another site framing the relay's pages. The admin page and
// the console — at their stable URLs and under /assets/<hash>/ — refuse to
// be framed by any other origin; with --frame-ancestors naming the site (a
// shop's own back office) the same frames load.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot } from './lib/harness.js';

// pages lists what a hostile page frames: the stable URLs and the same
// documents under their content-hashed URLs (read from /admin/ itself).
async function pages(relay) {
  const html = await (await fetch(`${relay.url}/admin/`)).text();
  const v = /\/assets\/([0-9a-f]{12})\/admin\/app\.js/.exec(html)?.[1];
  assert.ok(v, `/admin/ names its script by a hashed URL: ${html.slice(0, 600)}`);
  return {
    admin: '/admin/',
    console: '/console/',
    'hashed-admin': `/assets/${v}/admin/index.html`,
    'hashed-console': `/assets/${v}/console/index.html`,
    demo: '/demo',
  };
}

// frames opens a page on the site that frames each URL of the relay, waits
// for every frame to finish (loaded or refused), and reports for each one
// whether the relay's document is there.
async function frames(context, site, relay, name) {
  const list = await pages(relay);
  const body = Object.entries(list).map(([id, p]) => `<iframe id="f-${id}" src="${relay.url}${p}" width="400" height="300"></iframe>`).join('\n');
  const page = await context.newPage();
  await page.goto(site.add(name, { body }), { waitUntil: 'load' });
  const shown = {};
  for (const id of Object.keys(list)) {
    const frame = await (await page.$(`#f-${id}`)).contentFrame();
    let has = false;
    try {
      // The relay's pages: a sign-in form, or the demo's shop header.
      has = await frame.evaluate(() => !!document.querySelector('#signin-form, header strong'));
    } catch { /* an error page may not even run script */ }
    shown[id] = { has, url: frame.url() };
  }
  return { page, shown, list };
}

suite('framing', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  it('another origin framing the admin page and the console (also via /assets/<hash>/) is refused', async () => {
    const { page, shown, list } = await frames(context, site, relay, 'clickjack');
    for (const [id, s] of Object.entries(shown)) {
      // Chromium replaces a refused frame with its error page.
      assert.equal(s.has, false, `${list[id]} must not render inside ${site.origin}: ${JSON.stringify(s)}`);
      assert.match(s.url, /^chrome-error:/, `${list[id]} replaced by the browser's error page`);
    }
    await screenshot(page, 'framing-refused');
  });

  it('the site named in --frame-ancestors may frame them', async () => {
    const allowed = await startRelay({ args: ['--frame-ancestors', site.origin] });
    const { page, shown, list } = await frames(context, site, allowed, 'backoffice');
    for (const [id, s] of Object.entries(shown)) {
      assert.equal(s.has, true, `${list[id]} renders inside the allowed ${site.origin}: ${JSON.stringify(s)}`);
    }
    await screenshot(page, 'framing-allowed');
  });
});
