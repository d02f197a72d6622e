/* Kefu loader: <script src="https://RELAY/widget.js" async></script>
 *
 * Kept tiny on purpose: it draws the launcher at once, owns the Shadow DOM
 * host and window.Kefu, and loads the rest (panel.js, then the wasm) when the
 * page is idle or the visitor opens the chat. It stores nothing and opens no
 * connection until then. */
(() => {
  'use strict';
  const w = window, d = document;
  // A second copy of the tag (a SPA re-rendering its head) must not add a
  // second launcher.
  if (w.Kefu && w.Kefu.version) return;

  const script = d.currentScript || [...d.scripts].find((s) => /\/widget\.js([?#]|$)/.test(s.src));
  const src = script ? script.src : '';
  if (!src) return; // inlined or loaded in a way we cannot find our relay from
  const data = script.dataset;
  const mark = (name) => { try { performance.mark('kefu:' + name); } catch { /* old browsers */ } };
  mark('loader');

  // Only values that cannot smuggle CSS or markup get through.
  const color = (c) => (/^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(c || '') ? c : '');
  const zIndex = (z) => (/^\d{1,10}$/.test(String(z)) && +z <= 2147483647 ? +z : 0);
  const opts = {
    title: data.title || '',
    color: color(data.color),
    position: data.position === 'left' ? 'left' : data.position === 'right' ? 'right' : '',
    zIndex: zIndex(data.zIndex),
    fingerprint: data.fingerprint !== 'off',
    lang: data.lang || '', // Kefu.setLanguage() changes it
    // The page's own launcher: clicks on elements matching this selector
    // open and close the chat, and ours stays hidden.
    customLauncher: validSelector(data.customLauncher),
    hideLauncher: data.launcher === 'hidden',
  };
  const cfg = { title: opts.title, color: opts.color || '#2563eb', position: opts.position || 'right', z_index: opts.zIndex || 2147483000 };
  // The languages the visitor may want, most wanted first: the shop's
  // choice for this page (data-lang, Kefu.setLanguage), the page's own
  // lang, the browser's. The relay picks the first it has a catalogue for
  // (docs/widget.md).
  const prefs = () => [...new Set([opts.lang, d.documentElement.lang, ...(navigator.languages || [navigator.language])]
    .map((l) => String(l || '').trim()).filter((l) => /^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$/.test(l)))].slice(0, 10).join(',');
  // The texts: English for the launcher until the catalogue of the chosen
  // language arrives with the config (widget/i18n/*.json).
  let T = {
    open: 'Open chat', close: 'Close chat', unread: '{n} unread',
    unavailable: 'Chat is unavailable right now. Please try again later.',
    notAllowed: 'Chat is not available on this site yet.', notAllowedOwner: 'Site owner: add {site} to Allowed sites in the Kefu admin (Widget tab).',
  };
  function validSelector(sel) {
    if (!sel) return '';
    try { d.querySelector(sel); return sel; } catch { console.warn('kefu: data-custom-launcher is not a CSS selector:', sel); return ''; }
  }
  const fill = (s, v) => String(s).replace(/\{(\w+)\}/g, (m, k) => (v && k in v ? v[k] : m));

  // --- events -------------------------------------------------------------
  const listeners = new Map();
  const sticky = new Map(); // "ready" is delivered to late subscribers too
  const emit = (ev, detail) => {
    if (ev === 'ready' || ev === 'unread') sticky.set(ev, detail);
    for (const fn of [...(listeners.get(ev) || [])]) {
      try { fn(detail); } catch (e) { setTimeout(() => { throw e; }); } // a host bug must not break us
    }
  };

  // --- Shadow DOM host ------------------------------------------------------
  // An autonomous custom element name: no host selector like `div` matches
  // it, and it is never registered, so nothing global is defined. It goes on
  // <html>, not <body>, so frameworks that swap <body> (Turbo) keep it, and
  // a transformed <body> cannot become its containing block.
  const host = d.createElement('kefu-widget');
  // Open, not closed: a closed root protects nothing from the page (the page's
  // scripts run first and could patch attachShadow), while an open one lets
  // automation, accessibility tools and the host's own tests reach the UI.
  const root = host.attachShadow({ mode: 'open' });
  const hostSheet = sheet('');
  const baseSheet = sheet(`
.k{all:initial;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Microsoft YaHei",sans-serif;color:#111827;--c:#2563eb;--fg:#fff}
.k *,.k *::before,.k *::after{box-sizing:border-box}
.l{all:initial;position:fixed;bottom:20px;right:20px;width:56px;height:56px;border-radius:50%;background:var(--c);color:var(--fg);cursor:pointer;display:flex;align-items:center;justify-content:center;box-shadow:0 4px 14px rgba(0,0,0,.25);transition:transform .15s}
.left .l{right:auto;left:20px}
.l:hover{transform:scale(1.06)}
.l:focus-visible{outline:3px solid #000;outline-offset:3px;box-shadow:0 0 0 3px #fff}
.l svg{width:28px;height:28px;fill:currentColor;pointer-events:none}
.nol .l{display:none}
.l .x{display:none}.open .l .x{display:block}.open .l .o{display:none}
.b{all:initial;position:absolute;top:-4px;inset-inline-end:-4px;min-width:20px;height:20px;padding:0 5px;border-radius:10px;background:#dc2626;color:#fff;font:600 12px/20px system-ui,sans-serif;text-align:center;box-shadow:0 0 0 2px #fff}
.b[hidden]{display:none}
.e{position:fixed;bottom:88px;right:20px;width:min(300px,calc(100vw - 40px));padding:12px 14px;border-radius:12px;background:#fff;color:#111827;box-shadow:0 8px 30px rgba(0,0,0,.25)}
.left .e{right:auto;left:20px}.e[hidden]{display:none}.e p{margin:0}.e p+p{margin-top:6px;font-size:12px;color:#4b5563}
@media (prefers-color-scheme:dark){.e{background:#1f2937;color:#f3f4f6}.e p+p{color:#9ca3af}}
@media (prefers-reduced-motion:reduce){.k *{transition:none!important;animation:none!important}}
`);
  // adoptedStyleSheets are not subject to the page's CSP style-src, unlike
  // a <style> element; the <style> fallback is for browsers without them.
  function sheet(css) {
    try {
      const s = new CSSStyleSheet();
      s.replaceSync(css);
      return s;
    } catch {
      const el = d.createElement('style');
      el.textContent = css;
      return { replaceSync: (c) => { el.textContent = c; }, el };
    }
  }
  function addSheet(css) {
    const s = sheet(css);
    if (s.el) root.append(s.el);
    else root.adoptedStyleSheets = [...root.adoptedStyleSheets, s];
    return s;
  }
  for (const s of [hostSheet, baseSheet]) {
    if (s.el) root.append(s.el);
    else root.adoptedStyleSheets = [...root.adoptedStyleSheets, s];
  }

  // `:host` rules marked !important beat the page's !important rules (the
  // inner tree context wins for important declarations), so a page with
  // `* { all: unset !important }` cannot move or hide the host.
  const applyHost = () => hostSheet.replaceSync(`:host{all:initial!important;display:block!important;position:fixed!important;top:0!important;left:0!important;width:0!important;height:0!important;overflow:visible!important;visibility:visible!important;opacity:1!important;transform:none!important;filter:none!important;pointer-events:auto!important;z-index:${cfg.z_index}!important}`);
  applyHost();

  const el = (tag, props) => Object.assign(d.createElement(tag), props);
  const svg = (cls, path) => {
    const ns = 'http://www.w3.org/2000/svg';
    const s = d.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('class', cls);
    const p = d.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    s.append(p);
    return s;
  };
  const ui = el('div', { className: 'k' });
  const launcher = el('button', { type: 'button', className: 'l' });
  launcher.setAttribute('aria-haspopup', 'dialog');
  launcher.setAttribute('aria-expanded', 'false');
  const badge = el('span', { className: 'b', hidden: true });
  badge.setAttribute('aria-hidden', 'true');
  launcher.append(
    svg('o', 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-.01zm5 0a1.5 1.5 0 1 0 0-.01zm5 0a1.5 1.5 0 1 0 0-.01z'),
    svg('x', 'M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'),
    badge);
  // Why the chat cannot open, when it cannot (read out: role=alert).
  const note = el('div', { className: 'e', hidden: true });
  note.setAttribute('role', 'alert');
  ui.append(launcher, note);
  root.append(ui);

  let open = false, unread = 0;
  const label = () => {
    const l = open ? T.close : cfg.title ? T.open + ' — ' + cfg.title : T.open;
    launcher.setAttribute('aria-label', unread ? l + ' (' + fill(T.unread, { n: unread }) + ')' : l);
  };
  ui.lang = 'en';
  ui.dir = 'ltr';
  // WCAG 2 contrast. Text and icons on the brand colour are black or
  // white, whichever reads better (never below 4.58:1); where the brand
  // colour must stand out against the panel itself (focus rings) a shade of
  // it with at least 3:1 is used, one for the light panel and one for the
  // dark (docs/widget.md, Contrast).
  const rgb = (c) => { const h = c.length === 4 ? c.replace(/\w/g, '$&$&') : c; return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); };
  const lum = (p) => p.reduce((s, v, i) => { v /= 255; return s + [0.2126, 0.7152, 0.0722][i] * (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4); }, 0);
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const shade = (p, bg, to) => {
    let q = p;
    for (let k = 1; k <= 20 && ratio(q, bg) < 3; k++) q = p.map((v, i) => Math.round(v + (to[i] - v) * k / 20));
    return 'rgb(' + q + ')';
  };
  const W = [255, 255, 255], B = [0, 0, 0];
  const style = () => {
    const p = rgb(cfg.color);
    ui.style.setProperty('--c', cfg.color);
    ui.style.setProperty('--fg', ratio(p, W) >= ratio(p, B) ? '#fff' : '#000');
    ui.style.setProperty('--rl', shade(p, W, B));
    ui.style.setProperty('--rd', shade(p, [17, 24, 39], W));
    ui.classList.toggle('left', cfg.position === 'left');
    label();
    applyHost();
  };
  style();
  // Attached after the page's first paint: a cached or fast loader can run
  // before it, and the page's own content must come first. One frame later
  // is still "at once" for a visitor.
  const attach = () => { if (!dead) { d.documentElement.append(host); mark('launcher'); } };
  if (w.requestAnimationFrame) w.requestAnimationFrame(() => setTimeout(attach, 0));
  else setTimeout(attach, 0);

  // --- lazy parts -----------------------------------------------------------
  const url = (p) => new URL(p, src).href;
  const nonce = script.nonce || script.getAttribute('nonce') || '';
  // Classic scripts need no CORS and pass a CSP that allows this loader.
  // The element carries its context, so panel.js needs no global to find it.
  const loadScript = (href, ctx) => new Promise((resolve, reject) => {
    const s = el('script', { src: href, async: true });
    if (nonce) s.nonce = nonce;
    s.kefu = ctx;
    s.onload = () => { s.remove(); resolve(); };
    s.onerror = () => { s.remove(); reject(new Error('kefu: could not load ' + href)); };
    (d.head || d.documentElement).append(s);
  });

  let config = null;
  let panel = null; // set by panel.js through ctx.attach
  let loading = null;
  let dead = false;
  let wantOpen = false;
  let identity = null;

  // Fetched without credentials: the relay knows visitors by their token,
  // never by cookies.
  // The config names the catalogue of the language the relay chose;
  // both are fetched together, so the panel starts with its texts.
  let shownLang = '';
  const texts = async (href) => {
    const m = await fetch(href, { credentials: 'omit' });
    if (!m.ok) throw new Error('kefu: messages ' + m.status);
    const j = await m.json();
    T = j.widget;
    shownLang = j.lang;
    ui.lang = j.lang;
    ui.dir = j.dir === 'rtl' ? 'rtl' : 'ltr';
  };
  const fetchConfig = async () => {
    const res = await fetch(url('/v1/widget/config?lang=' + encodeURIComponent(prefs())), { credentials: 'omit', cache: 'no-cache' });
    if (!res.ok) {
      const e = new Error('kefu: config ' + res.status);
      try { e.code = (await res.json()).error.code; } catch { /* not the relay's JSON */ }
      if (e.code === 'origin_not_allowed') e.message = `kefu: ${location.origin} is not in the relay's allowed sites (Kefu admin → Widget → Allowed sites)`;
      throw e;
    }
    const c = await res.json();
    if (c.messages && c.lang !== shownLang) await texts(url(c.messages));
    config = c;
    cfg.title = opts.title || c.title || cfg.title;
    cfg.color = opts.color || color(c.color) || cfg.color;
    cfg.position = opts.position || (c.position === 'left' ? 'left' : 'right');
    cfg.z_index = opts.zIndex || zIndex(c.z_index) || cfg.z_index;
    style();
    mark('config');
    return c;
  };

  const ctx = {
    root, ui, launcher, badge, opts, cfg, src, url, mark, emit, loadScript, addSheet, nonce, fill,
    get config() { return config; },
    get T() { return T; },
    get lang() { return shownLang || 'en'; },
    fetchConfig,
    get identity() { return identity; },
    attach(p) { panel = p; },
    setOpen(o) {
      open = o;
      ui.classList.toggle('open', o);
      launcher.setAttribute('aria-expanded', String(o));
      if (opts.customLauncher) for (const e of d.querySelectorAll(opts.customLauncher)) e.setAttribute('aria-expanded', String(o));
      label();
    },
    setUnread(n) {
      const changed = n !== unread;
      unread = n;
      label();
      if (changed) emit('unread', { count: n });
    },
  };

  const load = () => {
    if (!loading) {
      loading = (config ? Promise.resolve(config) : fetchConfig())
        // The markdown renderer first (one module shared with the console
        // and admin page); without it (a relay before it, a page whose
        // policy refuses modules) answers show as plain text.
        .then((c) => (c.markdown ? import(url(c.markdown)).then((m) => { ctx.md = m; }, () => {}) : null).then(() => loadScript(url(c.panel), ctx)))
        .then(() => { if (!panel) throw new Error('kefu: panel did not start'); })
        .catch((e) => { loading = null; launcher.removeAttribute('aria-busy'); throw e; });
    }
    return loading;
  };

  // unavailable says, in the visitor's language, that the chat cannot
  // open: the site is not allowed (with what its owner must do), or the
  // relay cannot be reached. Without a config, the catalogue comes from
  // /v1/widget/messages (open to any site); a relay that cannot be
  // reached says it in English.
  const unavailable = async (e) => {
    const blocked = e.code === 'origin_not_allowed';
    if (!shownLang) await texts(url('/v1/widget/messages?lang=' + encodeURIComponent(prefs()))).catch(() => {});
    const lines = blocked ? [T.notAllowed, fill(T.notAllowedOwner, { site: location.host })] : [T.unavailable];
    note.replaceChildren(...lines.map((t) => el('p', { textContent: t })));
    note.hidden = false;
    emit('unavailable', { code: blocked ? e.code : 'unreachable' });
  };
  // openNow opens the panel; o.message (Kefu.open({message, send})) is put
  // in the message box, or sent at once with send: true.
  const openNow = (o) => {
    if (dead) return;
    note.hidden = true;
    wantOpen = true;
    const compose = () => { if (o && typeof o.message === 'string') panel.compose(o.message, o.send === true); };
    if (panel) { panel.open(); compose(); return; }
    launcher.setAttribute('aria-busy', 'true');
    load().then(() => { launcher.removeAttribute('aria-busy'); if (wantOpen) { panel.open(); compose(); } }, (e) => { console.warn(e.message); if (wantOpen) unavailable(e); });
  };
  const toggleByClick = () => (!note.hidden || (panel && panel.isOpen()) ? api.close() : openNow());
  launcher.addEventListener('click', toggleByClick);
  const showLauncher = (on) => ui.classList.toggle('nol', !on || !!opts.customLauncher);
  showLauncher(!opts.hideLauncher);
  if (opts.customLauncher) {
    // Delegated, so a launcher the page draws later (a SPA) works too; in
    // the bubbling phase, after the page's own handlers.
    d.addEventListener('click', (e) => {
      const t = e.target instanceof Element ? e.target.closest(opts.customLauncher) : null;
      if (!t || dead) return;
      e.preventDefault();
      toggleByClick();
    });
  }

  const api = {
    version: 1,
    open: openNow,
    close() { wantOpen = false; note.hidden = true; if (panel) panel.close(); },
    toggle() { if (panel && panel.isOpen()) api.close(); else openNow(); },
    // Our round launcher off or back on (the panel still opens by API or a
    // custom launcher); with data-custom-launcher it stays off.
    hideLauncher() { showLauncher(false); },
    showLauncher() { showLauncher(true); },
    // Speak another language from now on (a tag such as "de" or "pt-BR";
    // "" goes back to the page's and the browser's).
    setLanguage(l) {
      opts.lang = typeof l === 'string' ? l : '';
      if (config) fetchConfig().then(() => panel && panel.relabel(), (e) => console.warn(e.message));
    },
    // Kept in memory and handed to the panel; see docs/widget.md.
    identify(info) { if (info && typeof info === 'object') { identity = { ...identity, ...info }; if (panel) panel.identify(identity); } },
    // Intercom's name for changing some traits: merged like identify.
    update(info) { api.identify(info); },
    on(ev, fn) {
      if (typeof fn !== 'function') return () => {};
      if (!listeners.has(ev)) listeners.set(ev, new Set());
      listeners.get(ev).add(fn);
      if (sticky.has(ev)) setTimeout(() => listeners.get(ev).has(fn) && fn(sticky.get(ev)));
      return () => listeners.get(ev).delete(fn);
    },
    // Ends the session for this browser (a logout): removes the widget,
    // closes connections and forgets what the widget stored.
    shutdown() {
      if (dead) return;
      dead = true;
      if (panel) panel.shutdown();
      host.remove();
      listeners.clear();
    },
  };

  // Calls made before the loader ran: window.Kefu = {q: [['on', 'ready', fn], ['open']]}.
  const queued = (w.Kefu && Array.isArray(w.Kefu.q)) ? w.Kefu.q : [];
  Object.defineProperty(w, 'Kefu', { value: Object.freeze(api), configurable: true, writable: false });
  for (const [m, ...args] of queued) if (typeof api[m] === 'function' && m !== 'version') api[m](...args);

  // Nothing heavy before the page has loaded and gone idle.
  const idle = (fn) => (w.requestIdleCallback ? w.requestIdleCallback(fn, { timeout: 3000 }) : setTimeout(fn, 300));
  const later = () => idle(() => { if (!dead) load().catch((e) => console.warn(e.message)); });
  // A link from the shop's mail (…#kefu-open) reopens the chat at once.
  if (location.hash === '#kefu-open') {
    history.replaceState(null, '', location.pathname + location.search);
    openNow();
  } else if (d.readyState === 'complete') later();
  else w.addEventListener('load', later, { once: true });
})();
