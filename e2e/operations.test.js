// The operator's way back in, in a real browser against the real relay:
// kefu admin reset-password refuses while the relay runs, works on the
// stopped relay's data directory, and the password it prints signs in to
// the admin page where the old one no longer does; the page's backup link
// downloads a database that checks clean.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { suite, it, startRelay, launch, screenshot, repo } from './lib/harness.js';
import { signIn, ADMIN_PASSWORD } from './lib/admin.js';

const bin = path.resolve(process.cwd(), process.env.KEFU_BIN || path.join(repo, 'bin/kefu'));

// kefu runs the binary and returns its exit status and output.
function kefu(...args) {
  try {
    return { status: 0, stdout: execFileSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }), stderr: '' };
  } catch (e) {
    return { status: e.status, stdout: String(e.stdout), stderr: String(e.stderr) };
  }
}

suite('operations', () => {
  it('a lost admin password: reset-password on the data directory, then sign in with the new one', async () => {
    const relay = await startRelay();
    const running = kefu('admin', 'reset-password', '--data', relay.data, 'admin');
    assert.equal(running.status, 1, 'refused while the relay runs');
    assert.match(running.stderr, /in use by a running relay\. Stop it first/);

    await relay.stop();
    const reset = kefu('admin', 'reset-password', '--data', relay.data, 'admin');
    assert.equal(reset.status, 0, reset.stderr);
    const pw = /^New password: (\S+)$/m.exec(reset.stdout)?.[1];
    assert.ok(pw && pw.length >= 16, `a new password printed: ${reset.stdout}`);
    await relay.start();

    const context = await launch();
    const page = await context.newPage();
    await page.goto(`${relay.url}/admin/`);
    assert.equal(await signIn(page, relay, 'admin', ADMIN_PASSWORD), 'Wrong user name or password.', 'the old password is refused');
    assert.equal(await signIn(page, relay, 'admin', pw), '', 'the new password opens the admin page');
    assert.ok(await page.locator('#app').isVisible());
    await screenshot(page, 'admin-after-reset-password');

    // The dashboard's backup link downloads the database, which checks clean.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dash-backup')]);
    assert.match(download.suggestedFilename(), /^kefu-backup-\d{8}T\d{6}Z\.db$/);
    const file = path.join(relay.data, '..', download.suggestedFilename());
    await download.saveAs(file);
    const checked = kefu('check', '--file', file);
    assert.equal(checked.status, 0, checked.stdout + checked.stderr);
    assert.match(checked.stdout, /no problems/);
    await page.close();
  });
});
