// Honest availability in a real browser against the real relay: outside
// business hours the widget says the team is away and until when, before
// the visitor writes; asking for a person says when the team is back and
// asks for an email, which the relay keeps on the visitor.
import { before } from 'node:test';
import assert from 'node:assert/strict';
import { suite, it, startRelay, startSite, launch, screenshot, poll, watch, W } from './lib/harness.js';
import { adminFetch } from './lib/admin.js';

const day = (d) => d.toISOString().slice(0, 10);

suite('away hours', () => {
  let relay, site, back;
  before(async () => {
    relay = await startRelay();
    site = await startSite(relay);
    // Open every day all day, but today and tomorrow are holidays: away
    // until the day after tomorrow, 00:00 UTC, whatever the time now.
    const now = new Date();
    const hours = [0, 1, 2, 3, 4, 5, 6].map((d) => ({ day: d, from: '00:00', to: '24:00' }));
    const res = await adminFetch(relay, 'PUT', '/v1/admin/availability', {
      time_zone: 'UTC', hours, holidays: [day(now), day(new Date(now.getTime() + 86_400_000))], reply_minutes: 30, away: false, texts: {},
    });
    assert.equal(res.status, 200, `PUT availability: ${JSON.stringify(res.data)}`);
    back = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2));
  });

  it('a visitor outside business hours sees the away state, asks for a person and leaves an email', async () => {
    const context = await launch({ locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    const errors = watch(page);
    await page.goto(site.add('away', {}));
    await W.open(page);
    const line = page.locator('kefu-widget .av');
    await poll(async () => /^Away until /.test(await line.textContent()), { what: 'the header says away until' });
    const shown = await line.textContent();
    assert.ok(shown.includes(back.toLocaleString('en-US', { timeZone: 'UTC', hour: 'numeric', minute: '2-digit' })) || shown.includes(String(back.getUTCDate())),
      `"${shown}" names the time the team is back (${back.toISOString()})`);
    assert.equal(await page.locator('kefu-widget .ms .g').count(), 0, 'shown before the visitor writes anything');

    await W.send(page, 'I want to talk to a real person');
    const form = page.locator('kefu-widget form.ct');
    await form.waitFor({ state: 'visible', timeout: 20_000 });
    const notice = (await W.stored(page)).find((m) => m.cls.includes('sy'));
    assert.match(notice.text, /away until \d{4}-\d\d-\d\d 00:00 \(UTC\)/, 'the hand-off says when the team is back');
    assert.doesNotMatch(notice.text, /shortly/, 'and promises no quick reply');
    await screenshot(page, 'away-contact-form');

    // A bad address is refused in the form; a good one is kept.
    await form.locator('input[type=email]').fill('not-an-address');
    await form.locator('button').click();
    await poll(async () => /valid email/.test(await form.textContent()), { what: 'the form says the address is not valid' });
    await form.locator('input[type=email]').fill('ann@example.com');
    await form.locator('input[autocomplete=name]').fill('Ann <b>bold</b>');
    await form.locator('button').click();
    await poll(async () => /ann@example\.com/.test(await form.textContent()), { what: 'the form thanks the visitor' });
    assert.equal(await page.locator('kefu-widget b').count(), 0, 'nothing the visitor typed became HTML');
    assert.deepEqual(errors, [], 'console errors');
  });
});
