// Kefu.identify(): what the page knows about the visitor reaches the
// relay (and so the agents), on this socket and after every reconnect.
import { before } from 'node:test';
import { createHmac } from 'node:crypto';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, poll, W } from './lib/harness.js';
import { signIn, widgetTab } from './lib/admin.js';

suite('identify', () => {
  let relay, site, context;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    context = await launch();
  });

  // adminGet signs in as the e2e admin and reads an admin API path.
  async function adminGet(path) {
    const login = await fetch(`${relay.url}/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'e2e-admin-password' }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const res = await fetch(`${relay.url}${path}`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200, path);
    return res.json();
  }

  it('traits given to Kefu.identify are stored with the visitor, cleaned to what the relay accepts', async () => {
    const page = await context.newPage();
    const frames = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(f.payload)));
    await page.goto(site.add('shop', {}));
    await page.evaluate(() => window.Kefu.identify({ name: 'Ann Lee', Email: 'ann@example.com', plan: 'pro', nested: { x: 1 } }));
    await W.open(page);
    await W.send(page, 'hello there');
    const sent = await poll(() => frames.map((f) => JSON.parse(f)).find((f) => f.type === 'identify'), { what: 'identify frame' });
    assert.deepEqual(sent.traits, { name: 'Ann Lee', email: 'ann@example.com', plan: 'pro' });
    const conv = await page.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':session')))).conv);
    const got = await poll(async () => {
      const c = await adminGet(`/v1/admin/conversations/${conv}`);
      return c.visitor && c.visitor.traits && c.visitor.traits.plan && c;
    }, { what: 'traits on the relay' });
    assert.equal(got.visitor.traits.name, 'Ann Lee');
    assert.equal(got.visitor.traits.email, 'ann@example.com');
    assert.equal(got.visitor.traits.nested, undefined);
  });

  it('the admin page generates the identity secret (shown once) and turns "require" on; the widget is then verified with it', async () => {
    const admin = await context.newPage();
    assert.equal(await signIn(admin, relay), '');
    await widgetTab(admin);
    await poll(async () => /No secret set/.test(await admin.locator('#id-state').textContent()), { what: 'no secret yet' });
    assert.ok(await admin.locator('#id-require').isDisabled(), 'require needs a secret first');
    await admin.click('#id-generate');
    // The element is there before the answer fills it: wait for the secret itself.
    const secret = await poll(async () => {
      const s = ((await admin.locator('#id-new-secret').textContent()) || '').trim();
      return /^[0-9a-f]{64}$/.test(s) && s;
    }, { what: 'the new secret shown once' });
    await admin.check('#id-require');
    await poll(async () => (await adminGet('/v1/admin/identity')).require === true, { what: 'require on' });
    const state = await adminGet('/v1/admin/identity');
    assert.ok(!JSON.stringify(state).includes(secret), 'the secret is never read back');

    const other = await launch();
    const page = await other.newPage();
    const warnings = [];
    page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    await page.goto(site.add('admin-secret', {}));
    const h = createHmac('sha256', secret).update('u-9').digest('hex');
    await page.evaluate((hash) => window.Kefu.identify({ user_id: 'u-9', user_hash: hash }), h);
    await W.open(page);
    await W.send(page, 'signed with the page\'s secret');
    const conv = await poll(() => page.evaluate(() => { const s = localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':session'))); return s && JSON.parse(s).conv; }), { what: 'a conversation' });
    await poll(async () => { const c = await adminGet(`/v1/admin/conversations/${conv}`); return c.visitor && c.visitor.traits && c.visitor.traits.identity_verified === 'true'; }, { what: 'verified with the admin page\'s secret' });
    await page.evaluate(() => window.Kefu.update({ user_id: 'u-10' }));
    await poll(() => warnings.some((w) => w.includes('identity_refused')), { what: 'an unsigned identity refused' });
    await other.close();
    await admin.close();
  });
});

// Signed identity: the shop's server signs the user id; the relay, run
// with --require-signed-identity, keeps a signed identity (marked
// verified, the hash dropped) and refuses a forged one whole.
suite('signed identity', () => {
  const SECRET = 'e2e-identity-secret-0123456789abcdef';
  const sign = (id, secret = SECRET) => createHmac('sha256', secret).update(id).digest('hex');
  let relay, site, context;
  before(async () => {
    relay = await startRelay({ args: ['--identity-secret', SECRET, '--require-signed-identity'] });
    site = await startSite(relay);
    context = await launch();
  });

  async function visitorOf(page) {
    const conv = await page.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':session')))).conv);
    const login = await fetch(`${relay.url}/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'e2e-admin-password' }),
    });
    const cookie = login.headers.get('set-cookie').split(';')[0];
    const res = await fetch(`${relay.url}/v1/admin/conversations/${conv}`, { headers: { Cookie: cookie } });
    assert.equal(res.status, 200);
    return (await res.json()).visitor;
  }

  it('a signed identity is stored verified, without its hash; a forged one is refused and nothing of it stored', async () => {
    const page = await context.newPage();
    await page.goto(site.add('signed', {}));
    await page.evaluate((h) => window.Kefu.identify({ user_id: 'u-42', user_hash: h, name: 'Ann Lee' }), sign('u-42'));
    await W.open(page);
    await W.send(page, 'hello, signed');
    const v = await poll(async () => { const x = await visitorOf(page); return x && x.traits && x.traits.user_id && x; }, { what: 'the signed traits on the relay' });
    assert.deepEqual(v.traits, { user_id: 'u-42', identity_verified: 'true', name: 'Ann Lee' });

    // Another browser: another visitor (a page in the same one shares its token).
    const other = await launch();
    const forged = await other.newPage();
    const warnings = [];
    forged.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    await forged.goto(site.add('forged', {}));
    await forged.evaluate((h) => window.Kefu.identify({ user_id: 'u-42', user_hash: h, name: 'Mallory' }), sign('u-42', 'a-guessed-secret-a-guessed-secret'));
    await W.open(forged);
    await W.send(forged, 'hello, forged');
    await poll(() => warnings.some((w) => w.includes('identity_refused')), { what: 'the refusal reported in the page' });
    await poll(async () => (await W.stored(forged)).some((m) => m.cls.includes('vi')), { what: 'the message still stored' });
    const fv = await visitorOf(forged);
    assert.ok(!fv.traits || Object.keys(fv.traits).length === 0, `nothing of a forged identity stored: ${JSON.stringify(fv.traits)}`);
    await page.close();
    await other.close();
  });

  it('a verified user\'s conversation follows them to a second browser; a forged identity never sees it', async () => {
    const devA = await launch();
    const a = await devA.newPage();
    await a.goto(site.add('device-a', {}));
    await a.evaluate((h) => window.Kefu.identify({ user_id: 'u-7', user_hash: h, name: 'Bo' }), sign('u-7'));
    await W.open(a);
    await W.send(a, 'written on device A');
    await poll(async () => (await W.stored(a)).some((m) => m.text === 'written on device A'), { what: 'device A\'s message stored' });

    // Device B chats anonymously, then the user signs in there.
    const devB = await launch();
    const b = await devB.newPage();
    await b.goto(site.add('device-b', {}));
    await W.open(b);
    await W.send(b, 'anonymous on device B');
    await poll(async () => (await W.stored(b)).some((m) => m.text === 'anonymous on device B'), { what: 'device B\'s own message stored' });
    await b.evaluate((h) => window.Kefu.identify({ user_id: 'u-7', user_hash: h, name: 'Bo' }), sign('u-7'));
    await poll(async () => (await W.texts(b)).includes('written on device A'), { timeout: 20_000, what: 'the user\'s conversation on device B' });
    await W.send(b, 'written on device B');
    await poll(async () => (await W.texts(a)).includes('written on device B'), { timeout: 20_000, what: 'device B\'s message live on device A' });

    // A forged identity for the same user: refused, and it sees only its own chat.
    const devC = await launch();
    const c = await devC.newPage();
    await c.goto(site.add('device-c', {}));
    await c.evaluate((h) => window.Kefu.identify({ user_id: 'u-7', user_hash: h }), sign('u-7', 'a-guessed-secret-a-guessed-secret'));
    await W.open(c);
    await W.send(c, 'forged on device C');
    await poll(async () => (await W.stored(c)).some((m) => m.text === 'forged on device C'), { what: 'device C\'s message stored' });
    const seen = await W.texts(c);
    assert.ok(!seen.includes('written on device A') && !seen.includes('written on device B'), `the forged browser sees the user's chat: ${seen}`);
    for (const d of [devA, devB, devC]) await d.close();
  });
});
