// Attachments in the real widget and console against the real relay:
// sending by picker, paste and drop (with progress), thumbnails for the
// agent and full size on click, files both ways; hostile files (a PNG
// with a script inside, an SVG, an HTML page named .png, a 50 MB file, a
// zip bomb named .png) refused or made inert; and a kill -9 of the relay
// in the middle of an upload, which leaves no half file anywhere and the
// widget finishing the upload where the relay stood.
import { before } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, poll, screenshot, watch, W, relayMessages, repo } from './lib/harness.js';
import { C, ADMIN, browser, createAgent, visitorConversation } from './lib/console.js';
import { png, scriptPNG, SVG, HTML, zipBomb, sizeOf } from './lib/files.js';

const root = (page) => page.locator('kefu-widget');
const picker = (page) => root(page).locator('input[type=file]');

// visitorToken reads the widget's token on a customer page.
const visitorToken = (page) => page.evaluate(() => {
  const key = Object.keys(localStorage).find((k) => k.endsWith(':session'));
  return key ? JSON.parse(localStorage.getItem(key)).token : '';
});

// dropFiles hands files to the widget as a paste into the message box or
// a drop on the panel, the way a browser does.
function giveFiles(page, how, files) {
  return page.evaluate(({ how, files }) => {
    const dt = new DataTransfer();
    for (const f of files) {
      const bytes = f.size ? new Uint8Array(f.size) : Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], f.name, { type: f.type }));
    }
    const sr = document.querySelector('kefu-widget').shadowRoot;
    if (how === 'paste') {
      sr.querySelector('textarea').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    } else {
      const p = sr.querySelector('.p');
      p.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      p.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }
  }, { how, files });
}

// shown lists the files the widget shows in stored messages.
const shown = (page) => page.evaluate(() => [...document.querySelector('kefu-widget').shadowRoot.querySelectorAll('.ms .g')]
  .filter((g) => g.querySelector('.t.fi'))
  .map((g) => {
    const img = g.querySelector('.t.fi img');
    return { name: img ? img.alt : g.querySelector('.dl span').firstChild.textContent, img: !!img, loaded: !!img && img.complete && img.naturalWidth > 0, src: img ? img.src.slice(0, 22) : '', mine: g.classList.contains('vi') };
  }));

// failures lists the refused files' messages the widget shows.
const failures = (page) => page.evaluate(() => [...document.querySelector('kefu-widget').shadowRoot.querySelectorAll('.pd .g.up.fail .me')].map((e) => e.textContent));

suite('attachments', () => {
  let relay, site, mei;
  before(async () => {
    // A 4 MB quota per visitor: room for every test's files, and the
    // quota test's second big photo goes over it.
    relay = await startRelay({ args: ['--agent-offline-grace', '1h', '--visitor-file-quota', String(4 << 20)] });
    site = await startSite(relay);
    mei = (await createAgent(relay, { username: 'mei', name: 'Mei' })) || ADMIN;
  });

  it('picker, paste and drop send files; the agent sees thumbnails and sends one back', async (t) => {
    const ctx = await browser(t);
    const shop = await ctx.newPage();
    const errors = watch(shop);
    await shop.goto(site.add('files', {}));
    await W.open(shop);
    // The first thing this visitor does is send a photo: the widget
    // starts the conversation for it.
    // Where it was taken, as a phone writes it: the relay must drop it.
    const photo = png(900, 600, { noise: true, extraChunks: [['tEXt', 'Location\0GPS 48.85837 N 2.29448 E'], ['eXIf', 'MM\0*GPS-SECRET-EXIF']] });
    assert.ok(await root(shop).locator('button.ak').isVisible(), 'the attach button is there');
    await picker(shop).setInputFiles({ name: 'broken cup.png', mimeType: 'image/png', buffer: photo });
    // Progress is shown while it goes.
    await poll(async () => (await shop.locator('kefu-widget .pd .g.up [role=progressbar]').count()) > 0 || (await shown(shop)).length > 0, { what: 'the upload in progress' });
    await poll(async () => { const s = await shown(shop); return s.length === 1 && s[0].loaded && s; }, { timeout: 20_000, what: 'the photo shown as a thumbnail' });
    assert.equal(await shop.locator('kefu-widget .pd .g.up').count(), 0, 'no pending upload left');
    const conv = await visitorConversation(shop);
    assert.ok(conv, 'a conversation was started for the file');

    // A screenshot pasted into the message box, and a text file dropped on the panel.
    await giveFiles(shop, 'paste', [{ name: 'image.png', type: 'image/png', b64: png(320, 200).toString('base64') }]);
    await giveFiles(shop, 'drop', [{ name: 'order-4471.txt', type: 'text/plain', b64: Buffer.from('order 4471: the cup arrived broken\n').toString('base64') }]);
    const files = await poll(async () => { const s = await shown(shop); return s.length === 3 && s.every((f) => !f.img || f.loaded) && s; }, { timeout: 20_000, what: 'three files shown' });
    assert.deepEqual(files.map((f) => [f.name, f.img, f.mine]), [['broken cup.png', true, true], ['image.png', true, true], ['order-4471.txt', false, true]]);
    assert.ok(files.every((f) => !f.img || f.src.startsWith('data:image/')), 'images are shown from data: URLs');
    // Full size on click, closed with Escape.
    await root(shop).locator('.ms .t.fi button.th').first().click();
    await poll(() => shop.evaluate(() => { const i = document.querySelector('kefu-widget').shadowRoot.querySelector('.lb img'); return !!i && i.naturalWidth === 900; }), { what: 'the photo full size' });
    await screenshot(shop, 'attachments-visitor-full-size');
    await shop.keyboard.press('Escape');
    assert.equal(await root(shop).locator('.lb').count(), 0, 'the full-size view closed');
    await screenshot(shop, 'attachments-visitor');

    // The agent sees the thumbnails, opens the photo in a sandboxed tab,
    // and sends a PDF the visitor can download.
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    await C.signIn(con, mei);
    await C.select(con, conv);
    const thumbs = await poll(async () => {
      const x = await con.evaluate(() => [...document.querySelectorAll('#stored .att-img img')].map((i) => ({ alt: i.alt, w: i.naturalWidth, src: i.getAttribute('src') })));
      return x.length === 2 && x.every((i) => i.w > 0) && x;
    }, { what: 'two thumbnails in the console' });
    assert.equal(thumbs[0].alt, 'broken cup.png');
    assert.match(thumbs[0].src, /\/attachments\/[a-z2-7]{16}\?thumb=1$/, 'the big photo shows its thumbnail');
    const full = await con.locator('#stored .att-img').first().getAttribute('href');
    const tab = await agentCtx.newPage();
    const res = await tab.goto(relay.url + full);
    assert.equal(res.status(), 200);
    const hd = res.headers();
    assert.equal(hd['content-type'], 'image/png');
    assert.equal(hd['x-content-type-options'], 'nosniff');
    assert.match(hd['content-security-policy'], /sandbox/);
    assert.match(hd['content-disposition'], /^inline; filename="broken cup.png"/);
    const served = await res.body();
    assert.deepEqual(sizeOf(served), { w: 900, h: 600 }, 'the whole photo');
    assert.ok(!served.includes('GPS') && !served.includes('tEXt') && !served.includes('eXIf'), 'the photo\'s metadata is gone');
    assert.equal(await con.locator('#stored .att-file .att-name').textContent(), 'order-4471.txt');
    await screenshot(con, 'attachments-console');
    await con.locator('#attach-input').setInputFiles({ name: 'invoice.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n') });
    await poll(async () => (await shown(shop)).some((f) => f.name === 'invoice.pdf' && !f.mine), { timeout: 20_000, what: 'the visitor to get the agent\'s PDF' });
    const download = shop.waitForEvent('download');
    await root(shop).locator('.ms .dl', { hasText: 'invoice.pdf' }).click();
    assert.equal((await download).suggestedFilename(), 'invoice.pdf');
    // The agent pastes a screenshot into the reply box and drops a note
    // file on the conversation: both reach the visitor, in that order.
    await con.evaluate(({ b64 }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'screenshot.png', { type: 'image/png' }));
      document.querySelector('#reply').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
      const dt2 = new DataTransfer();
      dt2.items.add(new File(['Tracking number: 4471-XY\n'], 'tracking.txt', { type: 'text/plain' }));
      const hist = document.querySelector('#history');
      hist.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt2, bubbles: true, cancelable: true }));
      hist.dispatchEvent(new DragEvent('drop', { dataTransfer: dt2, bubbles: true, cancelable: true }));
    }, { b64: png(200, 120).toString('base64') });
    const fromAgent = await poll(async () => {
      const x = (await shown(shop)).filter((f) => !f.mine);
      return x.length === 3 && x.every((f) => !f.img || f.loaded) && x;
    }, { timeout: 20_000, what: 'the pasted and the dropped file at the visitor' });
    assert.deepEqual(fromAgent.map((f) => f.name), ['invoice.pdf', 'screenshot.png', 'tracking.txt']);
    // The console drops an upload's row when the reply to its last part
    // arrives; the stored file reaches the visitor's socket on its own
    // path, and may come first.
    await poll(async () => (await con.locator('#uploads .msg').count()) === 0, { what: 'no upload left pending in the console' });
    assert.deepEqual(errors, [], 'no console errors on the shop page');
  });

  it('hostile files are refused or made inert', async (t) => {
    const ctx = await browser(t);
    const shop = await ctx.newPage();
    let dialogs = 0;
    shop.on('dialog', (d) => { dialogs++; d.dismiss(); });
    await shop.goto(site.add('hostile-files', {}));
    await W.open(shop);
    await W.send(shop, 'here are my files');
    await poll(async () => (await W.stored(shop)).length > 0, { what: 'the message stored' });
    // Named and typed as PNGs, so the widget hands them all to the relay,
    // which looks at what they are.
    await picker(shop).setInputFiles([
      { name: 'holiday.png', mimeType: 'image/png', buffer: scriptPNG() },
      { name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from(SVG) },
      { name: 'cat.png', mimeType: 'image/png', buffer: Buffer.from(HTML) },
      { name: 'photos.png', mimeType: 'image/png', buffer: zipBomb() },
    ]);
    // 50 MB: refused before a byte goes, in the visitor's language.
    await giveFiles(shop, 'paste', [{ name: 'video.png', type: 'image/png', size: 50 << 20 }]);
    const refused = await poll(async () => { const f = await failures(shop); return f.length === 4 && f; }, { timeout: 30_000, what: 'four refusals' });
    for (const name of ['logo.png', 'cat.png', 'photos.png']) {
      assert.ok(refused.some((m) => m.startsWith(`${name} can't be sent: only images`)), `${name} refused by type: ${refused}`);
    }
    assert.ok(refused.some((m) => m === 'video.png is too big: files can be up to 10 MB.'), `the 50 MB file refused: ${refused}`);
    const ok = await poll(async () => { const s = await shown(shop); return s.length === 1 && s[0].loaded && s; }, { timeout: 20_000, what: 'the polyglot PNG shown as an image' });
    assert.equal(ok[0].name, 'holiday.png');
    assert.equal(await shop.evaluate(() => window.__pwned), undefined, 'no script ran on the shop page');
    // Stored: the message and the one image, nothing of the refused files.
    const stored = await relayMessages(shop, relay);
    const withFiles = stored.filter((m) => m.attachment);
    assert.deepEqual(withFiles.map((m) => m.attachment.name), ['holiday.png']);
    // The image as the relay serves it: made again, the script gone.
    const token = await visitorToken(shop);
    const conv = await visitorConversation(shop);
    const auth = { Authorization: `Bearer ${token}` };
    const img = await fetch(`${relay.url}/v1/conversations/${conv}/attachments/${withFiles[0].attachment.id}`, { headers: auth });
    const bytes = Buffer.from(await img.arrayBuffer());
    assert.equal(img.headers.get('content-type'), 'image/png');
    assert.ok(!bytes.includes('<script') && !bytes.includes('html'), 'the served PNG carries no script');
    assert.deepEqual(sizeOf(bytes), { w: 64, h: 48 });
    // Opened directly in a tab, it is an image in a sandbox: nothing runs.
    const agentCtx = await browser(t);
    const con = await C.open(agentCtx, relay);
    await C.signIn(con, mei);
    const tab = await agentCtx.newPage();
    let tabDialogs = 0;
    tab.on('dialog', (d) => { tabDialogs++; d.dismiss(); });
    await tab.goto(`${relay.url}/v1/agent/conversations/${conv}/attachments/${withFiles[0].attachment.id}`);
    assert.equal(await tab.evaluate(() => window.__pwned).catch(() => undefined), undefined);
    // The relay refuses them however they come: straight to the API.
    const upload = async (name, body) => {
      const id = 'x' + Math.random().toString(36).slice(2);
      const c = await fetch(`${relay.url}/v1/conversations/${conv}/uploads`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ id, name, size: body.length }) });
      if (c.status !== 200) return [c.status, (await c.json()).error.code];
      const p = await fetch(`${relay.url}/v1/conversations/${conv}/uploads/${id}?offset=0`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/octet-stream' }, body });
      return [p.status, p.status === 200 ? 'stored' : (await p.json()).error.code];
    };
    assert.deepEqual(await upload('logo.svg', Buffer.from(SVG)), [415, 'file_type']);
    assert.deepEqual(await upload('cat.png', Buffer.from(HTML)), [415, 'file_type']);
    assert.deepEqual(await upload('photos.png', zipBomb()), [415, 'file_type']);
    const big = await fetch(`${relay.url}/v1/conversations/${conv}/uploads`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ id: 'big', name: 'video.png', size: 50 << 20 }) });
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.code, 'file_too_big');
    assert.equal((await relayMessages(shop, relay)).filter((m) => m.attachment).length, 1, 'still one file stored');
    assert.equal(dialogs + tabDialogs, 0, 'no dialog opened');
    await screenshot(shop, 'attachments-refused');
  });

  it('a kill -9 in the middle of an upload leaves no half file; the widget finishes it after the restart', async (t) => {
    const ctx = await browser(t);
    const shop = await ctx.newPage();
    await shop.goto(site.add('kill', {}));
    await W.open(shop);
    await W.send(shop, 'a big photo is coming');
    await poll(async () => (await W.stored(shop)).length > 0, { what: 'the message stored' });
    const conv = await visitorConversation(shop);
    const token = await visitorToken(shop);
    // Where the upload stood each time the restarted relay took it up: the
    // offset a status request answered, or the offset of a part it
    // accepted. Which comes first is the widget's retry timing (a part sent
    // at its known offset needs no status request), so both count.
    let restarted = false;
    const resumedAt = [];
    shop.on('response', async (r) => {
      if (!restarted || !r.ok() || !/\/uploads\/[^/?]+(\?offset=\d+)?$/.test(r.url())) return;
      const method = r.request().method();
      if (method === 'GET') resumedAt.push((await r.json().catch(() => ({}))).offset);
      if (method === 'POST') resumedAt.push(Number(new URL(r.url()).searchParams.get('offset')));
    });
    // A slow uplink, so the relay can be killed mid-way.
    const cdp = await ctx.newCDPSession(shop);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: 192 * 1024 });
    const photo = png(1000, 700, { noise: true }); // about 2 MB
    await picker(shop).setInputFiles({ name: 'big.png', mimeType: 'image/png', buffer: photo });
    const progress = () => shop.evaluate(() => +(document.querySelector('kefu-widget').shadowRoot.querySelector('.pd [role=progressbar]')?.getAttribute('aria-valuenow') ?? -1));
    await poll(async () => (await progress()) >= 25, { timeout: 30_000, what: 'a quarter of the upload sent' });
    relay.proc.kill('SIGKILL');
    await new Promise((r) => relay.proc.once('exit', r));
    // Hold the widget back while the relay is looked at.
    await ctx.setOffline(true);
    await relay.start();
    restarted = true;
    const msgs = await (await fetch(`${relay.url}/v1/conversations/${conv}/messages`, { headers: { Authorization: `Bearer ${token}` } })).json();
    assert.equal(msgs.messages.filter((m) => m.attachment).length, 0, 'no file (whole or half) in the conversation after the kill');
    assert.ok(await progress() < 100, 'the widget still shows the upload unfinished');
    // Back online: it asks where the upload stands and goes on from there.
    await ctx.setOffline(false);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const done = await poll(async () => { const s = await shown(shop); return s.length === 1 && s[0].loaded && s; }, { timeout: 60_000, every: 200, what: 'the photo stored after the restart' });
    assert.equal(done[0].name, 'big.png');
    assert.ok(resumedAt.length > 0 && resumedAt[0] > 0, `the upload went on from a stored offset, not from the start (offsets after the restart: ${resumedAt})`);
    const stored = (await relayMessages(shop, relay)).filter((m) => m.attachment);
    assert.equal(stored.length, 1, 'one file, stored once');
    const img = await fetch(`${relay.url}/v1/conversations/${conv}/attachments/${stored[0].attachment.id}`, { headers: { Authorization: `Bearer ${token}` } });
    assert.deepEqual(sizeOf(Buffer.from(await img.arrayBuffer())), { w: 1000, h: 700 }, 'the whole photo');
  });

  it('refusals are in the visitor\'s language', async (t) => {
    const ctx = await browser(t);
    const shop = await ctx.newPage();
    await shop.goto(site.add('files-de', { lang: 'de' }));
    await W.open(shop);
    await giveFiles(shop, 'paste', [{ name: 'film.png', type: 'image/png', size: 11 << 20 }]);
    await giveFiles(shop, 'drop', [{ name: 'archiv.zip', type: 'application/zip', b64: zipBomb().subarray(0, 64).toString('base64') }]);
    const refused = await poll(async () => { const f = await failures(shop); return f.length === 2 && f; }, { what: 'two refusals' });
    const de = JSON.parse(fs.readFileSync(path.join(repo, 'widget/i18n/de.json'), 'utf8')).widget;
    assert.deepEqual(refused, [
      de.fileTooBig.replace('{name}', 'film.png').replace('{max}', '10 MB'),
      de.fileType.replace('{name}', 'archiv.zip'),
    ]);
    assert.equal(await shop.locator('kefu-widget .pd .g.up.fail [role=alert]').count(), 2, 'read out by screen readers');
    assert.equal(await visitorConversation(shop), '', 'refused files start no conversation');
    // Over the quota: the relay refuses the second big photo before a byte
    // of it goes, and the widget says so in German.
    const photo = png(1000, 700, { noise: true }); // about 2 MB; two are over 4 MB
    await picker(shop).setInputFiles({ name: 'erstes.png', mimeType: 'image/png', buffer: photo });
    await poll(async () => { const s = await shown(shop); return s.length === 1 && s[0].loaded; }, { timeout: 30_000, what: 'the first photo stored' });
    await picker(shop).setInputFiles({ name: 'zweites.png', mimeType: 'image/png', buffer: photo });
    const all = await poll(async () => { const f = await failures(shop); return f.length === 3 && f; }, { timeout: 30_000, what: 'the quota refusal' });
    assert.equal(all[2], de.fileQuota.replace('{name}', 'zweites.png'));
    assert.equal((await relayMessages(shop, relay)).filter((m) => m.attachment).length, 1, 'one photo stored');
  });
});
