// Privacy in the browser: the fingerprint off by default, the widget's
// local data expiring, the privacy notice before the first message, and a
// visitor's "delete my data" reaching the admin page, where one click
// erases them.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, W } from './lib/harness.js';
import { adminFetch, privacyTab, setWidget, signIn } from './lib/admin.js';

const kefuKeys = (page) => page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('kefu:')).map((k) => k.replace(/^kefu:[^:]+:\d+:/, '')).sort());
const session = (page) => page.evaluate(() => {
  const k = Object.keys(localStorage).find((x) => x.endsWith(':session'));
  return k ? JSON.parse(localStorage.getItem(k)) : null;
});

// reloadAged reloads the page as if the widget was last used ms ago. The
// session's time is set as the old page goes away (pagehide, after which it
// runs no more tasks), because until then the widget rewrites it with the
// current time whenever it marks a message read, e.g. on a late welcome.
const reloadAged = async (page, ms) => {
  await page.evaluate((ms) => addEventListener('pagehide', () => {
    const k = Object.keys(localStorage).find((x) => x.endsWith(':session'));
    localStorage.setItem(k, JSON.stringify({ ...JSON.parse(localStorage.getItem(k)), at: Date.now() - ms }));
  }), ms);
  await page.reload();
};

suite('privacy', () => {
  let relay, site;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
  });

  it('the fingerprint is off until the shop turns it on', async () => {
    const context = await launch();
    const page = await context.newPage();
    const frames = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(JSON.parse(f.payload))));
    await page.goto(site.add('fp-off', {}));
    await W.open(page);
    await W.send(page, 'hello without a fingerprint');
    await poll(async () => (await W.stored(page)).length >= 1, { what: 'stored message' });
    const hello = frames.find((f) => f.type === 'hello');
    assert.ok(hello, 'hello sent');
    assert.equal(hello.fingerprint, undefined, 'no fingerprint in hello by default');
    assert.deepEqual(await kefuKeys(page), ['log', 'outbox', 'session'], 'no visitor id stored for a fingerprint');
    await context.close();

    await setWidget(relay, { fingerprint: true });
    const on = await launch();
    const p2 = await on.newPage();
    const f2 = [];
    p2.on('websocket', (ws) => ws.on('framesent', (f) => f2.push(JSON.parse(f.payload))));
    await p2.goto(site.add('fp-on', {}));
    await W.open(p2);
    await W.send(p2, 'hello with a fingerprint');
    const h2 = await poll(() => f2.find((f) => f.type === 'hello'), { what: 'hello' });
    assert.match(h2.fingerprint || '', /^[0-9a-f]{64}$/, 'fingerprint sent once the shop turned it on');
    // A page can still keep it off (until its visitor consents).
    const off = await launch();
    const p3 = await off.newPage();
    const f3 = [];
    p3.on('websocket', (ws) => ws.on('framesent', (f) => f3.push(JSON.parse(f.payload))));
    await p3.goto(site.add('fp-page-off', { attrs: { fingerprint: 'off' } }));
    await W.open(p3);
    await W.send(p3, 'page says off');
    const h3 = await poll(() => f3.find((f) => f.type === 'hello'), { what: 'hello' });
    assert.equal(h3.fingerprint, undefined);
    await setWidget(relay, { fingerprint: false });
    await Promise.all([on.close(), off.close()]);
  });

  it('the chat kept in the browser expires store_days after its last use', async () => {
    await setWidget(relay, { store_days: 2 });
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('expiry', {}));
    await W.open(page);
    await W.send(page, 'remember me for a while');
    await poll(async () => (await session(page))?.at, { what: 'session with its time' });
    const s = await session(page);
    assert.ok(Math.abs(Date.now() - s.at) < 60_000, 'the session records when it was last used');

    // A day later it is still there.
    await reloadAged(page, 86_400_000);
    await W.waitMark(page, 'panel');
    assert.equal((await session(page))?.token, s.token, 'kept within store_days');
    assert.ok((await W.texts(page)).includes('remember me for a while'));

    // Three days later everything the widget kept is gone, and a new visitor starts.
    await reloadAged(page, 3 * 86_400_000);
    await W.waitMark(page, 'panel');
    assert.deepEqual(await kefuKeys(page), [], 'nothing left in localStorage');
    assert.ok(!(await W.texts(page)).includes('remember me for a while'), 'the old transcript is not shown');
    await setWidget(relay, { store_days: 30 });
    await context.close();
  });

  it('the privacy notice shows before the first message; "delete my data" reaches the admin, who erases', async () => {
    await setWidget(relay, { privacy_notice: 'We keep chats for 90 days.', privacy_url: 'https://shop.example/privacy' });
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('notice', {}));
    await page.evaluate(() => window.Kefu.identify({ email: 'erase.me@example.com', name: 'Erin' }));
    await W.open(page);
    const notice = page.locator('kefu-widget .pv');
    await notice.waitFor({ state: 'visible' });
    assert.match(await notice.textContent(), /We keep chats for 90 days\./);
    assert.equal(await notice.locator('a').getAttribute('href'), 'https://shop.example/privacy');
    assert.equal(await page.locator('kefu-widget .pf button', { hasText: 'Delete my data' }).isVisible(), false, 'nothing to delete before the first message');
    await screenshot(page, 'privacy-notice');
    await W.send(page, 'my secret phrase is walrus-2291');
    await poll(async () => (await W.stored(page)).length >= 1, { what: 'stored message' });
    await notice.waitFor({ state: 'hidden' });

    // The visitor asks.
    await page.locator('kefu-widget .pf button', { hasText: 'Delete my data' }).click();
    await page.locator('kefu-widget .pf button', { hasText: 'Ask' }).click();
    await poll(async () => /Request sent/.test(await page.locator('kefu-widget .pf [role=status]').textContent()), { what: 'request confirmed' });
    assert.deepEqual(await kefuKeys(page), [], 'the browser forgot the chat');
    await screenshot(page, 'privacy-erasure-asked');

    // The admin sees the request on the Privacy tab and erases with one click (and a confirmation).
    const admin = await (await launch()).newPage();
    assert.equal(await signIn(admin, relay), '');
    await admin.click('#tab-privacy');
    const req = admin.locator('#pv-requests li', { hasText: 'erase.me@example.com' });
    await req.waitFor();
    // Export first (the visitor may also have asked for a copy).
    const [download] = await Promise.all([admin.waitForEvent('download'), req.locator('button', { hasText: 'Export' }).click()]);
    const chunks = [];
    for await (const c of await download.createReadStream()) chunks.push(c);
    const exported = JSON.parse(Buffer.concat(chunks).toString());
    assert.equal(exported.visitors.length, 1);
    assert.ok(exported.visitors[0].conversations[0].messages.some((m) => m.text.includes('walrus-2291')), 'the export holds the transcript');
    await req.locator('button', { hasText: 'Erase' }).click();
    await admin.click('#dlg-ok');
    await admin.locator('#pv-requests li', { hasText: 'None waiting' }).waitFor();
    await admin.locator('#pv-audit li', { hasText: 'admin erased 1 visitor' }).waitFor();
    await screenshot(admin, 'privacy-admin-after-erasure');

    const found = await adminFetch(relay, 'GET', '/v1/admin/visitors?email=erase.me@example.com');
    assert.deepEqual(found.data.visitors, [], 'nobody found after the erasure');
    await setWidget(relay, { privacy_notice: '', privacy_url: '' });
    await context.close();
  });

  it('the admin finds a visitor by email and sets retention, which the dashboard shows', async () => {
    const context = await launch();
    const page = await context.newPage();
    await page.goto(site.add('find', {}));
    await page.evaluate(() => window.Kefu.identify({ email: 'found@example.com' }));
    await W.open(page);
    await W.send(page, 'please find me');
    await poll(async () => (await adminFetch(relay, 'GET', '/v1/admin/visitors?email=found@example.com')).data.visitors.length === 1, { what: 'traits stored' });

    const admin = await (await launch()).newPage();
    assert.equal(await signIn(admin, relay), '');
    await privacyTab(admin); // its load would overwrite the retention typed below
    await admin.fill('#pv-q', 'FOUND@example.com');
    await admin.click('#pv-find button[type=submit]');
    await admin.locator('#pv-results article', { hasText: 'found@example.com' }).waitFor();
    await admin.fill('#pv-closed', '90');
    await admin.fill('#pv-inactive', '365');
    await admin.click('#pv-retention button[type=submit]');
    await poll(async () => (await adminFetch(relay, 'GET', '/v1/admin/retention')).data.retention.closed_days === 90, { what: 'retention saved' });
    await admin.fill('#pv-closed', '-3');
    await admin.click('#pv-retention button[type=submit]');
    await admin.locator('#pv-ret-msg:not([hidden])').waitFor();
    await admin.click('#tab-dashboard');
    await poll(async () => /Next sweep|first sweep/.test(await admin.locator('#dash-retention').textContent()), { what: 'the dashboard shows the sweep' });
    await screenshot(admin, 'privacy-dashboard-retention');
    await context.close();
  });
});
