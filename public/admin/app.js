// The admin page: sign-in, the tabs, and the account menu. Each tab's
// module loads its data when the tab is shown.
import * as api from '../shared/api.js';
import { $, showMsg, toast } from '../shared/dom.js';
import { dialog, field } from './ui.js';
import * as dashboard from './dashboard.js';
import * as conversations from './conversations.js';
import * as intents from './intents.js';
import * as agents from './agents.js';
import * as kb from './kb.js';
import * as aiView from './ai.js';
import * as widget from './widget.js';
import * as privacy from './privacy.js';
import * as hours from './hours.js';
import * as mailView from './mail.js';
import * as notify from './notify.js';

const views = { dashboard, conversations, intents, kb, agents, ai: aiView, widget, hours, mail: mailView, privacy, notify };
const tabs = [...document.querySelectorAll('[role="tab"]')];
let user = null;
const started = new Set();

function showSignIn(message = '') {
  user = null;
  $('#boot').hidden = true;
  $('#app').hidden = true;
  $('#signin').hidden = false;
  showMsg($('#signin-msg'), message);
  $('#password').value = '';
  ($('#username').value ? $('#password') : $('#username')).focus();
}

function showApp(u) {
  user = u;
  $('#boot').hidden = true;
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#me').textContent = `${u.name} (${u.username})`;
  select(location.hash.slice(1).split('/')[0] || 'dashboard', false);
}

// select shows a tab: the ARIA tab pattern (roving tabindex).
function select(name, focus = true) {
  if (!views[name]) name = 'dashboard';
  for (const t of tabs) {
    const on = t.dataset.tab === name;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    if (on && focus) t.focus();
    $(`#view-${t.dataset.tab}`).hidden = !on;
  }
  if (location.hash.slice(1).split('/')[0] !== name) history.replaceState(null, '', `#${name}`);
  const v = views[name];
  if (!started.has(name)) { started.add(name); v.init?.(); }
  v.show?.().catch((e) => toast(e.message, 'error'));
  // The widget tab refreshes them itself; other tabs keep the banner current.
  if (name !== 'widget') widget.checkRefused().catch(() => { /* the tab's own call reports errors */ });
}

$('#refused-review').addEventListener('click', () => {
  select('widget');
  $('#w-sites').focus();
});

for (const t of tabs) {
  t.addEventListener('click', () => select(t.dataset.tab));
  t.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(t);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(tabs[(to + tabs.length) % tabs.length].dataset.tab);
  });
}
window.addEventListener('hashchange', () => { if (user) select(location.hash.slice(1).split('/')[0], false); });

// One message for every failed sign-in, whatever the reason (unknown
// user, wrong password, disabled account): the relay says nothing more,
// and neither does the page. Only the throttle is told apart; its message
// from the relay says how long to wait.
const BAD_LOGIN = 'Wrong user name or password.';
const THROTTLED = 'Too many failed sign-ins. Wait a moment, then try again.';

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const btn = $('#signin-btn');
  btn.disabled = true;
  showMsg($('#signin-msg'), '');
  try {
    const u = await api.login($('#username').value.trim(), $('#password').value);
    if (u.role !== 'admin') {
      await api.logout();
      showSignIn('This page is for admins. Agents answer chats in the console at /console/.');
      return;
    }
    showApp(u);
  } catch (err) {
    if (err.status === 401) showSignIn(BAD_LOGIN);
    else if (err.status === 429) showSignIn(err.code === 'rate_limited' ? err.message : THROTTLED);
    else showSignIn(err.message);
  } finally {
    btn.disabled = false;
  }
});

$('#signout').addEventListener('click', async () => {
  try { await api.logout(); } catch { /* signed out either way */ }
  showSignIn('You are signed out.');
});

$('#chpw').addEventListener('click', () => dialog({
  title: 'Change your password',
  ok: 'Change password',
  body: [
    field({ label: 'Current password', name: 'old', type: 'password', autocomplete: 'current-password', required: true }),
    field({ label: 'New password (10 characters or more)', name: 'new', type: 'password', autocomplete: 'new-password', minlength: 10, required: true }),
    field({ label: 'New password again', name: 'again', type: 'password', autocomplete: 'new-password', required: true }),
  ],
  async onOK(form) {
    const { old, new: next, again } = Object.fromEntries(new FormData(form));
    if (next !== again) throw new Error('The two new passwords differ.');
    try {
      await api.changePassword(old, next);
    } catch (err) {
      if (err.status === 403) throw new Error('The current password is wrong.', { cause: err });
      throw err;
    }
    toast('Password changed. Your other sessions were signed out.');
  },
}));

api.onSignedOut(() => { if (user) showSignIn('Your session ended. Sign in again.'); });

(async () => {
  try {
    const u = await api.me();
    if (u && u.role === 'admin') showApp(u);
    else showSignIn();
  } catch (e) {
    showSignIn(e.message);
  }
})();
