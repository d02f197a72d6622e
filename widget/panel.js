/* Kefu panel: the chat UI, the connection to the relay, the persisted
 * outbox and the in-browser FAQ classifier (wasm). widget.js loads it as a
 * classic script on idle or when the visitor opens the chat, and hands it
 * its context through the <script> element, so no global is needed.
 *
 * One file because the relay's config names one hashed URL for it; the
 * sections below are the parts: strings, storage, view, classifier,
 * transports (WebSocket, then HTTP + server-sent events), and the session
 * that ties them together. Every text from a visitor, an agent or the
 * model reaches the page through textContent, never as HTML. */
(() => {
  'use strict';
  const ctx = document.currentScript && document.currentScript.kefu;
  if (!ctx) return;
  const w = window, d = document;
  const { root, ui, launcher, badge, opts, cfg, url, mark, emit, fill } = ctx;

  // --- texts ------------------------------------------------------------------
  // From the catalogue of the visitor's language (widget/i18n/*.json),
  // which the loader fetched with the config. Fixed texts are marked on
  // their element (data-t: textContent, data-tl: aria-label, data-tp:
  // placeholder; several keys joined by " · "), so Kefu.setLanguage can
  // redraw them all (relabel).
  let T = ctx.T;
  const tr = (keys) => keys.split(' ').map((k) => T[k] || k).join(' · ');
  const say = (e, keys) => { e.dataset.t = keys; e.textContent = tr(keys); return e; };
  const sayLabel = (e, keys) => { e.dataset.tl = keys; e.setAttribute('aria-label', tr(keys)); return e; };
  // The relay stores the FAQ's and the AI's answers under these names.
  const authorKey = { FAQ: 'faq', AI: 'ai' };
  // The shop's settings as last fetched (the privacy ones are read once).
  const config = ctx.config || {};

  // --- storage ----------------------------------------------------------------
  // localStorage of the host page, one key per kind so tabs can react to
  // each other's changes (storage events). Nothing is written before the
  // visitor first interacts (opens the chat or sends) — see docs/widget.md.
  const prefix = 'kefu:' + new URL(ctx.src).host + ':';
  const K = { session: prefix + 'session', log: prefix + 'log', outbox: prefix + 'outbox', vid: prefix + 'vid', contact: prefix + 'contact' };
  const LOG_MAX = 100; // messages kept for an instant redraw on reload
  const LOG_BYTES = 200_000; // the host's storage quota is shared with the host
  let mayStore = false;
  let asked = false; // the visitor asked for erasure: store nothing more
  const read = (k, def) => { try { return JSON.parse(localStorage.getItem(k)) ?? def; } catch { return def; } };
  const write = (k, v) => {
    if (!mayStore) return;
    try { localStorage.setItem(k, JSON.stringify(v)); } catch { /* full or blocked: we still work in memory */ }
  };
  const forget = () => { for (const k of Object.values(K)) try { localStorage.removeItem(k); } catch { /* blocked */ } };
  const interacted = () => { mayStore = !asked; };
  // What this widget keeps in the browser goes store_days (the shop's
  // setting) after the visitor last used the chat. A session saved before
  // this rule has no time: it counts from its next use.
  const STORE_MS = (Number(config.store_days) > 0 ? Number(config.store_days) : 30) * 86_400_000;
  const kept = read(K.session, null);
  if (kept && kept.at && Date.now() - kept.at > STORE_MS) forget();
  if (read(K.session, null)) mayStore = true; // a returning visitor already agreed

  // --- view -------------------------------------------------------------------
  ctx.addSheet(`
.p{position:fixed;bottom:88px;right:20px;width:370px;height:min(600px,calc(100vh - 110px));display:flex;flex-direction:column;background:var(--bg);color:var(--tx);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden;--bg:#fff;--tx:#111827;--mu:#6b7280;--bb:#f3f4f6;--bd:#878e99;--ln:#e5e7eb;--er:#dc2626;--ring:var(--rl)}
.p[hidden]{display:none}
.left .p{right:auto;left:20px}
.h{flex:none;min-height:64px;display:flex;align-items:center;gap:8px;padding-inline:16px 8px;background:var(--c);color:var(--fg)}
.hd{flex:1;min-width:0}
.ti{font-weight:600;font-size:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.st,.av{font-size:12px;line-height:16px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.av[hidden]{display:none}
button{font:inherit;color:inherit;background:none;border:0;cursor:pointer}
button:focus-visible,textarea:focus-visible,.m:focus-visible{outline:3px solid var(--ring);outline-offset:2px}
.m:focus-visible{outline-offset:-3px}
.h button:focus-visible{outline-color:var(--fg)}
.cx{width:40px;height:40px;border-radius:8px;display:flex;align-items:center;justify-content:center}
.cx svg,.sd svg{width:22px;height:22px;fill:currentColor}
[dir=rtl] .sd svg{transform:scaleX(-1)}
.bx{flex:1;position:relative;min-height:0}
.m{position:absolute;inset:0;overflow-y:auto;padding:12px 12px 28px;display:flex;flex-direction:column;gap:8px;overscroll-behavior:contain}
.gr,.ms,.lv,.pd{display:flex;flex-direction:column;gap:8px}.gr:empty{display:none}
.g{display:flex;flex-direction:column;align-items:flex-start;max-width:85%;align-self:flex-start}
.g.vi{align-self:flex-end;align-items:flex-end}
.g.sy{align-self:center;max-width:90%}
.au{font-size:12px;color:var(--mu);margin:0 4px 2px}
.t{padding:8px 12px;border-radius:14px;background:var(--bb);white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
.vi .t{background:var(--c);color:var(--fg)}
.sy .t{background:none;color:var(--mu);font-size:13px;text-align:center;font-style:italic}
.t p,.t ul,.t ol,.t pre{margin:0}.t>*+*{margin-top:.5em}.t ul,.t ol{padding-left:1.3em}
.t pre{white-space:pre-wrap;background:rgba(0,0,0,.06);padding:6px 8px;border-radius:6px}.t code{font:12.5px ui-monospace,monospace}
.t a{color:inherit;text-decoration:underline;overflow-wrap:anywhere}
.me{font-size:11px;color:var(--mu);margin:2px 4px 0}
.fail .me{color:var(--er)}
.stream .t::after{content:"▍";opacity:.6}
.ty{position:absolute;inset-inline-start:12px;bottom:4px;font-size:12px;color:var(--mu);height:20px;line-height:20px}
.ty[hidden]{display:none}
.n{position:absolute;left:8px;right:8px;top:8px;z-index:1;padding:6px 10px;border-radius:8px;background:#fef3c7;color:#78350f;font-size:13px;box-shadow:0 2px 6px rgba(0,0,0,.12)}
.n[hidden]{display:none}
.f{flex:none;display:flex;gap:8px;align-items:flex-end;padding:10px;border-top:1px solid var(--ln);background:var(--bg)}
textarea{flex:1;height:44px;resize:none;font:inherit;color:var(--tx);background:var(--bg);border:1px solid var(--bd);border-radius:10px;padding:10px 12px;line-height:22px}
textarea::placeholder{color:var(--mu)}
.sd{flex:none;width:44px;height:44px;border-radius:10px;background:var(--c);color:var(--fg);display:flex;align-items:center;justify-content:center}
.ak{flex:none;width:36px;height:44px;border-radius:10px;color:var(--mu);display:flex;align-items:center;justify-content:center}
.ak[hidden]{display:none}.ak svg{width:22px;height:22px;fill:currentColor}
.p.dz .bx{outline:3px dashed var(--c);outline-offset:-6px}
.g.ra{align-self:center;max-width:90%;align-items:center}.ra .t{background:none;color:var(--mu);font-size:13px;text-align:center}
.ra.old{display:none}
.pv{align-self:stretch;font-size:13px;color:var(--mu);padding:8px 10px;border:1px solid var(--bd);border-radius:10px}
.m:has(.vi) .pv{display:none}
.pv a,.pf a,.pf button{color:inherit;text-decoration:underline;font-size:inherit}
.pf{flex:none;display:flex;flex-wrap:wrap;gap:4px 12px;align-items:center;padding:0 10px 8px;font-size:12px;color:var(--mu);background:var(--bg)}
.pf[hidden],.pf [hidden]{display:none}
.dm{display:flex;flex-direction:column;align-items:flex-start;gap:6px;max-width:85%}
.dl{font-size:13px;color:var(--mu);margin:0 4px}
.dc{padding:6px 12px;border:1px solid var(--ring);border-radius:14px;text-align:start;overflow-wrap:anywhere}
.dn{border-color:var(--bd);color:var(--mu)}
.ct{align-self:stretch;display:flex;flex-direction:column;gap:6px;padding:10px;border:1px solid var(--bd);border-radius:10px;font-size:13px}
.ct p{margin:0}.ct input:not([type=checkbox]){font:inherit;color:var(--tx);background:var(--bg);border:1px solid var(--bd);border-radius:8px;padding:6px 8px}
.ct label{display:flex;gap:6px;align-items:center;color:var(--mu)}
.cs{align-self:flex-start;padding:6px 14px;border-radius:8px;background:var(--c);color:var(--fg)}
.cm{color:var(--mu)}.cm:empty{display:none}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (prefers-color-scheme:dark){.p{--bg:#111827;--tx:#f3f4f6;--mu:#9ca3af;--bb:#1f2937;--bd:#6b7280;--ln:#374151;--er:#f87171;--ring:var(--rd)}}
@media (max-width:480px){.p,.left .p{inset:0;width:auto;height:auto;border-radius:0}.open .l{display:none}}
`);

  const el = (tag, cls, text) => {
    const e = d.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text); // the only way text enters the DOM
    return e;
  };
  const icon = (path) => {
    const ns = 'http://www.w3.org/2000/svg';
    const s = d.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    const p = d.createElementNS(ns, 'path');
    p.setAttribute('d', path);
    s.append(p);
    return s;
  };

  const panel = el('div', 'p');
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'kefu-title');
  panel.id = 'kefu-panel';
  launcher.setAttribute('aria-controls', 'kefu-panel');
  const head = el('div', 'h');
  const hd = el('div', 'hd');
  const title = el('div', 'ti', cfg.title);
  title.id = 'kefu-title';
  const sub = el('div', 'st');
  const availLine = el('div', 'av');
  availLine.hidden = true;
  hd.append(title, sub, availLine);
  const closeBtn = el('button', 'cx');
  closeBtn.type = 'button';
  sayLabel(closeBtn, 'close');
  closeBtn.append(icon('M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'));
  head.append(hd, closeBtn);

  const box = el('div', 'bx');
  const list = el('div', 'm');
  // A log to read back, but not a live region: a message is drawn more
  // than once (pending copy, then stored; instant answer, then stored;
  // streamed, then stored), so what is spoken goes through announce, once.
  list.setAttribute('role', 'log');
  list.setAttribute('aria-live', 'off');
  sayLabel(list, 'messages');
  list.tabIndex = 0; // keyboard users can scroll the history
  const greet = el('div', 'gr'); // the business's greeting, in the widget's language
  const stored = el('div', 'ms'), live = el('div', 'lv'), pend = el('div', 'pd');
  // The shop's privacy notice, before the visitor's first message (hidden
  // by CSS once one of theirs is in the list).
  const safeURL = /^https?:\/\//i.test(config.privacy_url || '') ? config.privacy_url : '';
  const privacyLink = () => {
    const a = say(el('a', ''), 'privacy');
    a.href = safeURL;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  };
  const pv = el('div', 'pv');
  if (config.privacy_notice || safeURL) {
    pv.append(config.privacy_notice || '');
    if (safeURL) pv.append(config.privacy_notice ? ' ' : '', privacyLink());
  } else pv.hidden = true;
  list.append(greet, pv, stored, live, pend);
  function greeting() {
    const c = ctx.config || {};
    greet.replaceChildren(...(c.greeting ? [bubble({ from: 'bot', author: cfg.title, text: c.greeting })] : []));
  }
  const notice = el('div', 'n');
  notice.hidden = true;
  notice.setAttribute('role', 'status');
  const typing = el('div', 'ty');
  typing.hidden = true;
  typing.setAttribute('aria-hidden', 'true'); // announcing every keystroke pause would drown the log
  box.append(list, notice, typing);

  const form = el('form', 'f');
  const input = el('textarea');
  input.dataset.tp = 'placeholder';
  input.placeholder = T.placeholder;
  sayLabel(input, 'message');
  input.dir = 'auto';
  input.rows = 1;
  const sendBtn = el('button', 'sd');
  sendBtn.type = 'submit';
  sayLabel(sendBtn, 'send');
  sendBtn.append(icon('M3 20.5 21 12 3 3.5 3 10l12 2-12 2z'));
  // Files: the picker, paste and drop hand them to the panel's extra part
  // (extra.js, loaded when first needed), where the relay takes files.
  const attachBtn = el('button', 'ak');
  attachBtn.type = 'button';
  sayLabel(attachBtn, 'attach');
  attachBtn.append(icon('M16.5 6.5v10.1a4.5 4.5 0 0 1-9 0V5.5a3 3 0 0 1 6 0v10a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0v-10a4.5 4.5 0 0 0-9 0v11.1a6 6 0 0 0 12 0V6.5z'));
  const picker = el('input');
  picker.type = 'file';
  picker.multiple = true;
  picker.hidden = true;
  picker.tabIndex = -1;
  const filesOn = () => !!(ctx.config && ctx.config.files && ctx.config.extra);
  attachBtn.hidden = !filesOn();
  form.append(picker, attachBtn, input, sendBtn);
  // The visitor's data rights: the notice's link, and "delete my data",
  // which asks the shop (an admin erases; docs/privacy.md).
  const foot = el('div', 'pf');
  const eraseBtn = say(el('button', ''), 'erase');
  eraseBtn.type = 'button';
  const eraseMsg = el('span', '');
  eraseMsg.setAttribute('role', 'status');
  const eraseYes = say(el('button', ''), 'eraseYes'), eraseNo = say(el('button', ''), 'eraseNo');
  eraseYes.type = eraseNo.type = 'button';
  const confirmRow = [eraseYes, eraseNo];
  if (safeURL) foot.append(privacyLink());
  foot.append(eraseBtn, eraseMsg, ...confirmRow);
  for (const b of confirmRow) b.hidden = true;
  panel.append(head, box, form, foot);
  // The one live region: outside the panel, so a reply that comes while
  // the panel is closed is announced too (politely).
  const ann = el('div', 'sr');
  ann.setAttribute('role', 'log');
  ann.setAttribute('aria-live', 'polite');
  ui.append(panel, ann);
  // announce speaks one message: "{name}: {text}" while the chat is open,
  // "New message from {name}: {text}" while it is closed.
  function announce(name, text) {
    const line = name ? fill(isOpen ? T.said : T.newMessage, { name, text }) : text;
    ann.append(el('p', '', line));
    while (ann.childElementCount > 5) ann.firstChild.remove();
  }
  const speaker = (m) => (m.from === 'system' ? '' : m.from === 'bot' && authorKey[m.author] ? T[authorKey[m.author]] : m.author || (m.from === 'agent' ? T.agent : T.ai));

  // setText fills a bubble's text: answers and agents' replies through the
  // strict markdown renderer (DOM nodes, links to http(s)/mailto only,
  // relative ones resolved against the relay); the visitor's own words as
  // typed, with their web addresses clickable (as the console shows them);
  // the rest as plain text.
  const mdBase = url('/');
  function setText(t, from, text) {
    if (ctx.md && (from === 'bot' || from === 'agent')) ctx.md.renderInto(t, text, { base: mdBase });
    else if (ctx.md && from === 'visitor') linkify(t, text == null ? '' : String(text));
    else t.textContent = text == null ? '' : String(text);
  }
  // linkify shows s as text with each http(s) address a link (checked by
  // the renderer's safeURL, new tab, no opener); nothing else is parsed.
  function linkify(t, s) {
    t.replaceChildren();
    let last = 0;
    for (const m of s.matchAll(/\bhttps?:\/\/[^\s<>"'`]+/gi)) {
      const u = m[0].replace(/[.,;:!?)\]]+$/, '');
      const href = ctx.md.safeURL(u);
      if (!href) continue;
      const a = el('a', '', u);
      a.href = href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      t.append(s.slice(last, m.index), a);
      last = m.index + u.length;
    }
    t.append(s.slice(last));
  }

  // spokenText is what a screen reader hears of a message: answers and
  // replies as the renderer's words, block by block (no asterisks, no
  // link addresses read out), the rest as typed.
  function spokenText(from, text) {
    if (!ctx.md || (from !== 'bot' && from !== 'agent')) return text == null ? '' : String(text);
    const f = ctx.md.renderMarkdown(text);
    const parts = [...f.querySelectorAll('p,li,pre')].map((e) => e.textContent);
    return parts.length ? parts.join(' ') : f.textContent;
  }

  // A bubble for a message {from, author, text, ...}; meta is its status
  // line, as text keys ("failed tooLong").
  function bubble(m, meta) {
    if (m.from === 'rating' && m.rating) return ratingRow(m);
    const from = ['visitor', 'agent', 'bot', 'system'].includes(m.from) ? m.from : 'bot';
    const g = el('div', 'g ' + { visitor: 'vi', agent: 'ag', bot: 'bo', system: 'sy' }[from]);
    if (from !== 'visitor' && from !== 'system') {
      const key = !m.author ? (from === 'agent' ? 'agent' : 'ai') : from === 'bot' && authorKey[m.author];
      g.append(key ? say(el('div', 'au'), key) : el('div', 'au', m.author));
    } else if (from === 'visitor') g.append(say(el('div', 'sr'), 'you'));
    const t = el('div', 't');
    setText(t, from, m.text);
    t.dir = 'auto'; // a message may be in another script than the widget
    g.append(t);
    g.append(el('div', 'me'));
    setMeta(g, meta);
    if (m.ts) g.title = new Date(m.ts).toLocaleString(ctx.lang);
    // A file: its name now, the thumbnail or link once extra.js is here.
    if (m.attachment) extra().then((x) => x.render(t, m), () => {});
    return g;
  }
  // A visitor's rating of a closed conversation: a quiet line.
  function ratingRow(m) {
    const g = el('div', 'g ra');
    const n = Math.max(1, Math.min(5, m.rating.score | 0));
    const t = el('div', 't', fill(T.rated, { n }) + ' ' + '★'.repeat(n) + '☆'.repeat(5 - n) + (m.rating.comment ? ' — ' + m.rating.comment : ''));
    t.dir = 'auto';
    g.append(t, el('div', 'me'));
    g.lastChild.hidden = true;
    return g;
  }
  function setMeta(g, meta, fail) {
    const me = g.lastChild;
    if (meta) say(me, meta);
    else { me.textContent = ''; delete me.dataset.t; }
    me.hidden = !meta;
    g.classList.toggle('fail', !!fail);
  }

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const toBottom = () => { list.scrollTop = list.scrollHeight; };
  const keepBottom = (fn) => { const b = nearBottom(); fn(); if (b) toBottom(); };

  // --- open / close, unread -----------------------------------------------------
  let isOpen = false;
  let availTimer = 0;
  let lastRead = 0;
  let unread = 0;
  const showBadge = () => {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    ctx.setUnread(unread);
  };
  const markRead = () => {
    if (!isOpen || d.hidden) return;
    unread = 0;
    lastRead = Math.max(lastRead, state.lastSeq);
    saveSession();
    showBadge();
  };
  // At ≤ 480 px the panel fills the screen: it is then a modal dialog, and
  // Tab cycles inside it instead of escaping into the page behind.
  const fullScreen = w.matchMedia('(max-width:480px)');
  const modal = () => panel.setAttribute('aria-modal', String(isOpen && fullScreen.matches));
  if (fullScreen.addEventListener) fullScreen.addEventListener('change', modal);
  panel.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab' || !fullScreen.matches) return;
    const f = [...panel.querySelectorAll('button,textarea,input:not([type=hidden]),select,a[href],[tabindex="0"]')].filter((x) => !x.disabled && x.getClientRects().length);
    const at = root.activeElement;
    if (!f.length) return;
    if (e.shiftKey ? at === f[0] || !f.includes(at) : at === f[f.length - 1]) {
      e.preventDefault();
      f[e.shiftKey ? f.length - 1 : 0].focus();
    }
  });
  function open() {
    if (isOpen) return;
    interacted();
    isOpen = true;
    panel.hidden = false;
    modal();
    ctx.setOpen(true);
    toBottom();
    input.focus({ preventScroll: true });
    markRead();
    emit('open');
    refreshAvail();
    // Without a socket (nothing written yet: no visitor record per page
    // view) nothing is pushed; the open panel asks now and then instead.
    clearInterval(availTimer);
    availTimer = setInterval(() => { if (!state.connected && !d.hidden) refreshAvail(); }, 30_000);
    refreshModel();
    classifier.load();
  }
  function close() {
    if (!isOpen) return;
    const hadFocus = root.activeElement && panel.contains(root.activeElement);
    isOpen = false;
    clearInterval(availTimer);
    panel.hidden = true;
    modal();
    ctx.setOpen(false);
    showBadge();
    if (hadFocus) launcher.focus();
    emit('close');
  }
  closeBtn.addEventListener('click', close);
  panel.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); close(); } });

  // --- the classifier (wasm) -------------------------------------------------
  // Lazily loaded: when the chat opens, or on idle for a returning visitor.
  // When WebAssembly cannot run (no support, a CSP without
  // 'wasm-unsafe-eval') the relay classifies instead; nothing else changes.
  const classifier = (() => {
    let kefu = null, loading = null, modelHash = '';
    // The shop's answers in the widget's language (config.answers), shown
    // in place of the model's default answer; {} when it has none there.
    let answers = {}, answersHash = '';
    const canCompile = () => {
      try { return !!new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0)); } catch { return false; }
    };
    // wasm_exec.js and the module set globals (Go, fs, process, path,
    // kefuWasm, __kefuWasmReady). A stray `process` makes libraries think
    // they run in Node, so every one we added is removed once Go holds its
    // references (the runtime reads them once, at start).
    const names = ['Go', 'fs', 'process', 'path', 'kefuWasm', '__kefuWasmReady'];
    async function start() {
      const c = ctx.config || {};
      if (!c.wasm || !c.wasm_exec || !c.model || typeof WebAssembly !== 'object' || !canCompile()) throw new Error('wasm unavailable');
      const saved = new Map(names.filter((n) => n in w).map((n) => [n, Object.getOwnPropertyDescriptor(w, n)]));
      try {
        await ctx.loadScript(url(c.wasm_exec), null);
        const go = new w.Go();
        const ready = new Promise((res) => { w.__kefuWasmReady = res; });
        const { instance } = await WebAssembly.instantiateStreaming(fetch(url(c.wasm.url), { credentials: 'omit' }), go.importObject);
        go.run(instance); // never resolves: the Go program keeps serving calls
        kefu = await Promise.race([ready, new Promise((_, rej) => setTimeout(() => rej(new Error('wasm did not start')), 5000))]);
      } finally {
        for (const n of names) {
          if (saved.has(n)) Object.defineProperty(w, n, saved.get(n));
          else delete w[n];
        }
      }
      await loadModel(c.model);
      await loadAnswers(c.answers);
      mark('wasm-ready');
    }
    async function loadAnswers(a) {
      if (!a) { answers = {}; answersHash = ''; return; }
      if (a.hash === answersHash) return;
      const res = await fetch(url(a.url), { credentials: 'omit' });
      if (!res.ok) throw new Error('answers ' + res.status);
      const j = await res.json();
      answers = j && typeof j === 'object' ? j : {};
      answersHash = a.hash;
    }
    // Answers wait for their language's texts: an instant answer in the
    // default language while the relay stores the visitor's would flip.
    const answersReady = () => { const a = (ctx.config || {}).answers; return !a || a.hash === answersHash; };
    async function loadModel(m) {
      if (!kefu || !m || m.hash === modelHash) return;
      const res = await fetch(url(m.url), { credentials: 'omit' });
      if (!res.ok) throw new Error('model ' + res.status);
      const r = kefu.loadModel(new Uint8Array(await res.arrayBuffer()));
      if (!r || !r.ok) throw new Error('model: ' + (r && r.error));
      modelHash = m.hash;
    }
    return {
      load() {
        if (!loading) {
          loading = start().then(() => true, (e) => {
            mark('wasm-off');
            if (!/unavailable/.test(e.message)) console.warn('kefu: classifying on the relay:', e.message);
            return false;
          });
        }
        return loading;
      },
      get ready() { return !!kefu && !!modelHash && answersReady(); },
      get started() { return !!kefu; },
      get loading() { return !!loading && !kefu; },
      loadModel: (m) => loadModel(m).catch((e) => console.warn('kefu:', e.message)),
      loadAnswers: (a) => loadAnswers(a).catch((e) => console.warn('kefu:', e.message)),
      classify(text) {
        if (!kefu || !modelHash || !answersReady()) return null;
        const r = kefu.classify(text);
        if (!r || r.error !== undefined) return null;
        if (r.intent && typeof answers[r.intent] === 'string') r.answer = answers[r.intent];
        // A did-you-mean pick shows its intent's answer in this language too.
        for (const c of r.choices || []) if (typeof answers[c.intent] === 'string') c.answer = answers[c.intent];
        return r;
      },
      fingerprint(signals) {
        if (!kefu) return '';
        const r = kefu.fingerprint(signals);
        return typeof r === 'string' ? r : '';
      },
    };
  })();

  // The model can change while the page is open: look again when the chat opens.
  let lastModelCheck = 0;
  function refreshModel() {
    if (!classifier.started || Date.now() - lastModelCheck < 30_000) return;
    lastModelCheck = Date.now();
    ctx.fetchConfig().then((c) => { if (c.model) classifier.loadModel(c.model); classifier.loadAnswers(c.answers); }, () => {});
  }

  // --- state ----------------------------------------------------------------------
  const state = {
    token: '', conv: '', lastSeq: 0, maxSeq: 0,
    handler: 'bot', handlerName: '', status: 'open',
    msgs: new Map(), // seq → message frame, what is shown
    nodes: new Map(), // seq → bubble
    streams: new Map(), // stream_id → {text, last, node}
    finished: new Set(), // stream ids whose stored message arrived
    pending: new Map(), // client id → {item, node, answer}
    failed: new Map(), // client id → bubble
    fingerprint: '',
    traits: null, // what the page said about the visitor (Kefu.identify)
    connected: false,
  };

  // traitsOf keeps what the relay accepts from Kefu.identify(): up to 20
  // string values under names of a-z, 0-9 and _ (docs/protocol.md).
  function traitsOf(info) {
    const out = {};
    let n = 0;
    for (const [k, v] of Object.entries(info || {})) {
      const key = String(k).toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 32);
      if (!key || v == null || typeof v === 'object' || n >= 20) continue;
      out[key] = String(v).slice(0, 256);
      n++;
    }
    return n ? out : null;
  }

  function saveSession() {
    if (state.token) write(K.session, { token: state.token, conv: state.conv, read: lastRead, at: Date.now() });
    showFoot();
  }
  function showFoot() {
    eraseBtn.hidden = !state.token || asked;
    foot.hidden = eraseBtn.hidden && !safeURL && !eraseMsg.textContent;
  }

  // "Delete my data": confirm, then send the request with the token.
  const confirming = (on) => {
    eraseBtn.hidden = on || asked;
    for (const b of confirmRow) b.hidden = !on;
    if (on) { say(eraseMsg, 'eraseAsk'); eraseYes.focus(); }
  };
  eraseBtn.addEventListener('click', () => confirming(true));
  eraseNo.addEventListener('click', () => { delete eraseMsg.dataset.t; eraseMsg.textContent = ''; confirming(false); eraseBtn.focus(); });
  eraseYes.addEventListener('click', async () => {
    eraseYes.disabled = true;
    try {
      const res = await fetch(url('/v1/conversations/' + encodeURIComponent(state.conv) + '/erasure-request'),
        { method: 'POST', credentials: 'omit', headers: { Authorization: 'Bearer ' + state.token } });
      if (res.status !== 202) throw new Error('kefu: erasure request ' + res.status);
      asked = true;
      confirming(false);
      say(eraseMsg, 'eraseSent');
      // The browser forgets the chat at once; the page goes on in memory.
      forget();
      mayStore = false;
    } catch {
      say(eraseMsg, 'eraseFailed');
    } finally {
      eraseYes.disabled = false;
      showFoot();
    }
  });
  function loadSession() {
    const s = read(K.session, null);
    if (!s) return;
    state.token = s.token || '';
    state.conv = s.conv || '';
    lastRead = Math.max(lastRead, s.read || 0);
  }

  // The transcript cache: merged with what other tabs wrote, trimmed.
  // Written once per burst of messages (a microtask, so a reload right
  // after a message still finds it).
  let saving = false;
  function saveLog() {
    if (saving) return;
    saving = true;
    queueMicrotask(() => {
      saving = false;
      const cached = read(K.log, null);
      const all = new Map(cached && cached.conv === state.conv ? cached.msgs.map((m) => [m.seq, m]) : []);
      for (const [seq, m] of state.msgs) all.set(seq, m);
      let msgs = [...all.values()].sort((a, b) => a.seq - b.seq).slice(-LOG_MAX);
      while (msgs.length > 1 && JSON.stringify(msgs).length > LOG_BYTES) msgs = msgs.slice(Math.ceil(msgs.length / 4));
      write(K.log, { conv: state.conv, msgs });
    });
  }

  // The outbox lives in storage only: a message is typed after the visitor
  // interacted, and every tab must see (and may send) it.
  const readOutbox = () => { const o = read(K.outbox, []); return Array.isArray(o) ? o : []; };
  const setOutbox = (items) => write(K.outbox, items);
  // The outbox items this tab may start a new visitor for: its own, and
  // those there when it loaded (a reload sends what the page before it
  // could not). An item another tab just added is that tab's to send: a
  // tab without a session connecting for it started a second visitor
  // beside the one the other tab was starting, and the two tabs then
  // followed each other's sessions. It is adopted only when no session
  // appears within ADOPT_MS (its tab closed or went offline first).
  const mine = new Set(readOutbox().map((i) => i.id));
  const ADOPT_MS = 10_000;
  let adoptTimer = 0;

  // --- showing messages -----------------------------------------------------------
  function clearShown() {
    state.msgs.clear();
    for (const n of state.nodes.values()) n.remove();
    state.nodes.clear();
    for (const s of state.streams.values()) s.node.remove();
    state.streams.clear();
    state.lastSeq = 0;
    state.maxSeq = 0;
  }

  // show adds a stored message frame in seq order; replay marks messages the
  // visitor has seen before (no unread count, no event for old ones).
  function show(m, replay) {
    if (!m || typeof m.seq !== 'number' || state.msgs.has(m.seq)) return;
    if (m.conversation_id && state.conv && m.conversation_id !== state.conv) return;
    state.msgs.set(m.seq, m);
    const meta = [m.via === 'browser' && m.from === 'bot' ? 'instant' : '', m.incomplete ? 'interrupted' : ''].filter(Boolean).join(' ');
    const node = bubble(m, meta);
    node.dataset.seq = m.seq;
    if (m.id) node.dataset.id = m.id;
    let after = null; // usually none: messages come in seq order
    if (m.seq < state.maxSeq) for (const [seq, n] of state.nodes) if (seq > m.seq && (!after || seq < +after.dataset.seq)) after = n;
    state.maxSeq = Math.max(state.maxSeq, m.seq);
    let spoken = m.from === 'visitor'; // the visitor's own words were announced as they sent them
    keepBottom(() => {
      stored.insertBefore(node, after);
      // What it replaces: our pending copy, an instant answer, a live stream.
      if (m.id) {
        const base = m.id.endsWith('#answer') ? m.id.slice(0, -7) : m.id;
        const p = state.pending.get(base);
        if (p) {
          if (m.id === base) { p.node.remove(); p.node = null; dropOutbox(base); } else if (p.answer) { p.answer.remove(); p.answer = null; spoken = true; }
          if (!p.node && !p.answer) state.pending.delete(base);
        }
        const f = state.failed.get(m.id);
        if (f) { f.remove(); state.failed.delete(m.id); }
      }
      if (m.stream_id) {
        state.finished.add(m.stream_id);
        const s = state.streams.get(m.stream_id);
        if (s) { s.node.remove(); state.streams.delete(m.stream_id); }
      }
    });
    state.nodes.set(m.seq, node);
    if (m.from === 'system' && m.via === 'contact' && m.seq >= state.maxSeq) keepBottom(() => contactFor(node));
    if (extraAPI && m.id && m.id.startsWith('upload:')) extraAPI.shown(m);
    if (m.from === 'rating') {
      // A later rating of the same closing (a comment added) replaces it.
      for (const [seq, n] of state.nodes) if (seq < m.seq && n.classList.contains('ra') && seq > lastVisitorSeq(m.seq)) n.classList.add('old');
    }
    // lastSeq: the highest seq with nothing missing below it, what hello resumes from.
    while (state.msgs.has(state.lastSeq + 1)) state.lastSeq++;
    if (m.from !== 'visitor') hideTyping();
    if (!replay) {
      if (!spoken) announce(speaker(m), spokenText(m.from, m.text));
      if (m.from !== 'visitor' && m.seq > lastRead) unread++;
      markRead();
      showBadge();
      emit('message', { ...pick(m), replay: false });
    }
    saveLog();
    askRating();
  }
  // lastVisitorSeq is the seq of the visitor's newest message before seq.
  function lastVisitorSeq(before) {
    let top = 0;
    for (const [seq, m] of state.msgs) if (seq < before && seq > top && m.from === 'visitor') top = seq;
    return top;
  }
  // A closed conversation asks for a rating, until the visitor gives one
  // (or writes again, which reopens it).
  function askRating() {
    const rated = [...state.msgs.values()].some((m) => m.from === 'rating' && m.seq > lastVisitorSeq(Infinity));
    const want = state.status === 'closed' && !!state.token && !rated && !!(ctx.config && ctx.config.extra);
    if (want) extra().then((x) => x.askRating(), () => {});
    else if (extraAPI) extraAPI.askRating(false, state.status === 'closed');
  }
  const pick = (m) => ({ id: m.id, seq: m.seq, from: m.from, author: m.author, text: m.text, ts: m.ts, intent: m.intent, via: m.via, incomplete: !!m.incomplete, stream_id: m.stream_id });

  // Deltas append in index order. Index 0 replaces (a reconnecting client
  // gets the text so far as index 0), anything at or below the last index
  // applied is a duplicate (the socket and an SSE reply may both carry it).
  function delta(f) {
    if (!f.stream_id || state.finished.has(f.stream_id)) return;
    let s = state.streams.get(f.stream_id);
    if (!s) {
      if (!f.text) return; // nothing to show yet (an empty closing delta of a stream that never spoke)
      const node = bubble({ from: 'bot', author: 'AI', text: '' });
      node.classList.add('stream');
      node.setAttribute('aria-busy', 'true'); // announced once, complete, as the stored message
      s = { text: '', last: -1, node };
      state.streams.set(f.stream_id, s);
      keepBottom(() => live.append(node));
      hideTyping();
    }
    if (f.index === 0) { s.text = f.text || ''; s.last = 0; } else if (f.index > s.last) { s.text += f.text || ''; s.last = f.index; } else return;
    keepBottom(() => setText(s.node.querySelector('.t'), 'bot', s.text));
    if (f.done) s.node.classList.remove('stream');
  }

  let typingTimer = 0;
  function showTyping(f) {
    if (f.from === 'visitor') return;
    if (!f.on) return hideTyping();
    // "working": an answer paused mid-way; the relay takes it back with the
    // next piece, so it may stay longer than a typing pause.
    const working = f.status === 'working';
    typing.textContent = working ? T.working : fill(T.typing, { name: f.author || (f.from === 'agent' ? T.agent : T.ai) });
    typing.classList.toggle('wk', working);
    if (working && !typing.classList.contains('said')) announce('', T.working); // worth announcing, once
    typing.classList.toggle('said', working);
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, working ? 60000 : 6000); // a lost "off" must not leave it stuck
  }
  function hideTyping() {
    typing.hidden = true;
    typing.classList.remove('said');
    clearTimeout(typingTimer);
  }

  function setHandler(f) {
    if (f.handler) state.handler = f.handler;
    if (f.status) state.status = f.status;
    state.handlerName = f.handler_name || '';
    statusLine();
  }
  function statusLine() {
    if (state.handler === 'agent' && state.status !== 'closed' && state.handlerName) {
      delete sub.dataset.t;
      sub.textContent = state.handlerName;
    } else say(sub, state.status === 'closed' ? 'closed' : state.handler === 'agent' ? 'agent' : state.handler === 'queue' ? 'queue' : 'bot');
    // The team's availability, under it, until a person has the chat.
    const text = state.status !== 'closed' && state.handler !== 'agent' ? availText() : '';
    availLine.textContent = text;
    availLine.hidden = !text;
    ui.dataset.avail = avail.state || '';
    askRating();
  }

  // --- availability -----------------------------------------------------------------
  // The team's, from the relay (online / replies within / away until),
  // shown in the header before the visitor writes; the shop's own wording
  // (texts) over the catalogue's. Times are shown in the visitor's zone.
  let avail = (ctx.config && ctx.config.availability) || {};
  const availWord = (k) => (avail.texts && avail.texts[k]) || T[k] || '';
  function availText() {
    const lang = ctx.lang;
    if (avail.state === 'online') return availWord('availOnline');
    if (avail.state === 'soon') {
      const m = Number(avail.reply_minutes) || 60;
      let time;
      try {
        time = m < 120 ? new Intl.NumberFormat(lang, { style: 'unit', unit: 'minute', unitDisplay: 'long' }).format(m)
          : new Intl.NumberFormat(lang, { style: 'unit', unit: 'hour', unitDisplay: 'long' }).format(Math.ceil(m / 60));
      } catch { time = m + ' min'; }
      return fill(availWord('availSoon'), { time });
    }
    if (avail.state === 'away') {
      const until = avail.until ? new Date(avail.until) : null;
      if (!until || isNaN(until)) return availWord('availAway');
      const soon = until - Date.now() < 6 * 86_400_000;
      let time;
      try { time = until.toLocaleString(lang, soon ? { weekday: 'long', hour: 'numeric', minute: '2-digit' } : { dateStyle: 'medium', timeStyle: 'short' }); } catch { time = until.toISOString(); }
      return fill(availWord('availAwayUntil'), { time });
    }
    return '';
  }
  let availAt = 0;
  // The relay pushes the status when it changes (docs/protocol.md,
  // "availability"); the shop's wording stays the config's.
  function liveAvail(f) {
    if (typeof f.state !== 'string') return;
    avail = { texts: avail.texts, state: f.state, online: f.online, reply_minutes: f.reply_minutes, until: f.until, time_zone: f.time_zone };
    availAt = Date.now();
    statusLine();
  }
  function refreshAvail() {
    if (Date.now() - availAt < 30_000) return;
    availAt = Date.now();
    fetch(url('/v1/widget/availability?lang=' + encodeURIComponent(ctx.lang)), { credentials: 'omit', cache: 'no-store' })
      .then((r) => (r.ok ? r.json() : null))
      .then((a) => { if (a && typeof a.state === 'string') { avail = a; statusLine(); } }, () => {});
  }

  // --- contact (email when nobody can answer) -------------------------------------
  // Under the hand-off that asks for it (a system message with via
  // "contact"): email, an optional name, and whether to get the
  // conversation by email when it closes. Kept on the visitor by the relay.
  let contactForm = null;
  function contactFor(node) {
    if (read(K.contact, null) || state.contactSent) return;
    if (contactForm) contactForm.remove();
    const f = el('form', 'ct');
    f.noValidate = true; // our message, in the visitor's language, not the browser's bubble
    const ask = say(el('p', ''), 'contactAsk');
    const email = el('input');
    email.type = 'email';
    email.required = true;
    email.autocomplete = 'email';
    email.maxLength = 254;
    email.dataset.tp = 'contactEmail';
    email.placeholder = T.contactEmail;
    sayLabel(email, 'contactEmail');
    const name = el('input');
    name.autocomplete = 'name';
    name.maxLength = 100;
    name.dataset.tp = 'contactName';
    name.placeholder = T.contactName;
    sayLabel(name, 'contactName');
    const lab = el('label', '');
    const tx = el('input');
    tx.type = 'checkbox';
    lab.append(tx, say(el('span', ''), 'contactTranscript'));
    const btn = say(el('button', 'cs'), 'contactSave');
    btn.type = 'submit';
    const msg = el('p', 'cm');
    msg.setAttribute('role', 'status');
    f.append(ask, email, name, lab, btn, msg);
    if (avail.texts && avail.texts.contactAsk) { delete ask.dataset.t; ask.textContent = avail.texts.contactAsk; }
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!email.checkValidity()) { say(msg, 'contactBad'); return; }
      btn.disabled = true;
      try {
        const res = await fetch(url('/v1/conversations/' + encodeURIComponent(state.conv) + '/contact'), {
          method: 'POST', credentials: 'omit',
          headers: { Authorization: 'Bearer ' + state.token, 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: email.value.trim(), name: name.value.trim(), transcript: tx.checked, page: location.href }),
        });
        if (res.status === 400) { say(msg, 'contactBad'); return; }
        if (!res.ok) throw new Error('kefu: contact ' + res.status);
        const saved = await res.json();
        state.contactSent = true;
        write(K.contact, { email: saved.email });
        const done = el('p', 'cm', fill(T.contactSaved, { email: saved.email }));
        done.setAttribute('role', 'status');
        f.replaceChildren(done);
        emit('contact', { email: saved.email });
      } catch {
        say(msg, 'contactFailed');
      } finally {
        btn.disabled = false;
      }
    });
    node.after(f);
    contactForm = f;
  }

  // Pending visitor messages: from the outbox (this tab's and other tabs').
  function renderPending() {
    const items = readOutbox();
    const ids = new Set(items.map((i) => i.id));
    for (const [id, p] of state.pending) {
      if (!ids.has(id) && p.node) { p.node.remove(); p.node = null; if (!p.answer) state.pending.delete(id); }
    }
    keepBottom(() => {
      for (const item of items) {
        if (state.pending.has(item.id) || [...state.msgs.values()].some((m) => m.id === item.id)) continue;
        const node = bubble({ from: 'visitor', text: item.text }, 'sending');
        node.dataset.id = item.id;
        pend.append(node);
        state.pending.set(item.id, { item, node, answer: null });
      }
    });
  }

  function dropOutbox(id) {
    const items = readOutbox();
    if (items.some((i) => i.id === id)) setOutbox(items.filter((i) => i.id !== id));
  }

  // --- sending ---------------------------------------------------------------------
  const newId = () => {
    const b = crypto.getRandomValues(new Uint8Array(10));
    return 'w' + Date.now().toString(36) + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  const enc = new TextEncoder();
  const maxBytes = 4096;

  // "Did you mean …?": a question the model finds between two intents is
  // held (shown, not sent) under two buttons naming them and "neither".
  // A pick sends it with that intent's answer, as an instant answer; anything
  // else sends it on to the AI or a person. Held in memory only: nothing is
  // acknowledged until it is sent.
  let asking = null; // {text, node}
  function ask(text, choices) {
    const g = bubble({ from: 'visitor', text }, '');
    const box = el('div', 'dm');
    box.setAttribute('role', 'group');
    const label = say(el('div', 'dl'), 'didYouMean');
    label.id = 'kefu-dym-' + newId();
    box.setAttribute('aria-labelledby', label.id);
    box.append(label);
    const pick = (forced) => {
      if (!asking || asking.text !== text) return;
      asking.node.remove();
      box.remove();
      asking = null;
      send(text, forced);
      input.focus();
    };
    for (const c of choices) {
      const b = el('button', 'dc', c.question);
      b.type = 'button';
      b.dir = 'auto';
      b.dataset.intent = c.intent;
      b.addEventListener('click', () => pick({ intent: c.intent, answer: c.answer }));
      box.append(b);
    }
    const no = say(el('button', 'dc dn'), 'neither');
    no.type = 'button';
    no.addEventListener('click', () => pick({ plain: true }));
    box.append(no);
    asking = { text, node: g, box };
    keepBottom(() => pend.append(g, box));
    announce('', [T.didYouMean, ...choices.map((c) => c.question), T.neither].join(' · '));
    toBottom();
    emit('choices', { text, choices: choices.map((c) => ({ intent: c.intent, question: c.question })) });
  }
  // sendHeld sends a held question on as it is (the visitor wrote again).
  function sendHeld() {
    if (!asking) return;
    const { text, node, box } = asking;
    node.remove();
    box.remove();
    asking = null;
    send(text, { plain: true });
  }

  // Visitor context (docs/privacy.md#visitor-context): the page a message
  // is written on, as origin and path only (a query or fragment often
  // carries emails and tokens), and at connection the browser's language,
  // time zone and the other site that led here. Read when sent: nothing of
  // it exists before the visitor writes.
  const httpURL = (u) => { try { const x = new URL(u); return /^https?:$/.test(x.protocol) ? x : null; } catch { return null; } };
  const originPath = (u) => (u.origin + u.pathname).slice(0, 1000).replace(/%[0-9A-Fa-f]?$/, '');
  function pageNow() {
    const u = httpURL(location.href);
    return u ? { url: originPath(u), title: String(document.title || '').trim().slice(0, 150) } : null;
  }
  function visitContext() {
    const c = {};
    const lang = navigator.language || '';
    if (lang.length <= 35 && /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(lang)) c.locale = lang;
    try {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
      if (tz.length <= 64 && /^[A-Za-z][\w+-]*(\/[A-Za-z][\w+-]*)*$/.test(tz)) c.tz = tz;
    } catch { /* no Intl */ }
    const r = httpURL(document.referrer);
    if (r && r.origin !== location.origin) c.referrer = originPath(r);
    return c;
  }
  const withPage = (f, i) => {
    if (i.page) { f.page_url = i.page.url; if (i.page.title) f.page_title = i.page.title; }
    return f;
  };

  // send stores text in the outbox and sends it. forced: {intent, answer}
  // (a "did you mean" pick) answers with that intent; {plain} skips the
  // classifier (the visitor said "neither").
  function send(text, forced) {
    text = String(text).trim();
    if (!text) return;
    interacted();
    if (!forced) sendHeld();
    const t0 = performance.now();
    const id = newId();
    if (enc.encode(text).length > maxBytes) {
      const node = bubble({ from: 'visitor', text }, 'failed tooLong');
      node.classList.add('fail');
      keepBottom(() => pend.append(node));
      state.failed.set(id, node);
      announce('', tr('failed tooLong'));
      return;
    }
    // An instant answer only while the bot handles the conversation: once a
    // person is on it, the FAQ must not talk over them.
    const bot = state.handler === 'bot' && state.status !== 'closed';
    const r = bot && !forced ? classifier.classify(text) : null;
    let hit = r && r.matched && r.action === 'answer' && r.answer ? r : null;
    if (bot && forced && forced.intent && forced.answer) hit = forced;
    if (!hit && r && Array.isArray(r.choices) && r.choices.length === 2) {
      ask(text, r.choices);
      return;
    }
    const item = { id, text, ts: Date.now() };
    if (hit) item.intent = hit.intent;
    const page = pageNow();
    if (page) item.page = page;
    mine.add(id);
    setOutbox([...readOutbox(), item]);
    renderPending();
    toBottom();
    announce(T.you, text);
    if (hit) {
      const p = state.pending.get(id);
      p.answer = bubble({ from: 'bot', author: 'FAQ', text: hit.answer }, 'instant');
      p.answer.dataset.id = id + '#answer';
      pend.append(p.answer);
      toBottom();
      announce(T.faq, spokenText('bot', hit.answer));
      const ms = performance.now() - t0;
      try { performance.measure('kefu:instant-answer', { start: t0, duration: ms, detail: { intent: hit.intent } }); } catch { /* old API */ }
      emit('message', { id: id + '#answer', from: 'bot', author: 'FAQ', text: hit.answer, intent: hit.intent, via: 'browser', instant: true, ms, replay: false });
    }
    connect();
    transport && transport.flush();
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value;
    input.value = '';
    stopTyping();
    send(text);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  let typingSent = 0;
  input.addEventListener('input', () => {
    interacted();
    if (input.value.trim() && Date.now() - typingSent > 2000 && transport) { typingSent = Date.now(); transport.typing(true); }
  });
  function stopTyping() { if (typingSent && transport) transport.typing(false); typingSent = 0; }

  // --- the extra part: files and ratings (extra.js) -------------------------------------
  // Loaded the first time a file is sent or shown, or a rating asked for.
  // It gets what it needs through hooks, never through globals.
  const waiters = []; // resolved at the next welcome
  let extraAPI = null, extraLoad = null;
  const hooks = {
    root, panel, list, pend, url, el, icon, say, sayLabel, fill, keepBottom, emit,
    addSheet: ctx.addSheet,
    get T() { return T; },
    get lang() { return ctx.lang; },
    get config() { return ctx.config || {}; },
    session: () => ({ token: state.token, conv: state.conv }),
    // started resolves once the visitor has a conversation (a file sent
    // before any message starts one).
    started() {
      if (state.token && state.conv && state.connected) return Promise.resolve();
      interacted();
      return new Promise((resolve) => { waiters.push(resolve); connect(); });
    },
    show: (m) => show(m, false),
    attach(api) { extraAPI = api; },
  };
  function extra() {
    if (!extraLoad) {
      const src = (ctx.config || {}).extra;
      extraLoad = !src ? Promise.reject(new Error('kefu: no extra part')) : ctx.loadScript(url(src), hooks).then(() => {
        if (!extraAPI) throw new Error('kefu: extra part did not start');
        return extraAPI;
      });
      extraLoad.catch((e) => { console.warn(e.message); extraLoad = null; });
    }
    return extraLoad;
  }
  const sendFiles = (list) => {
    const files = [...(list || [])];
    if (!files.length || !filesOn()) return;
    interacted();
    extra().then((x) => x.send(files), () => {});
  };
  attachBtn.addEventListener('click', () => picker.click());
  picker.addEventListener('change', () => { sendFiles(picker.files); picker.value = ''; });
  input.addEventListener('paste', (e) => {
    const files = e.clipboardData && e.clipboardData.files;
    if (files && files.length && filesOn()) { e.preventDefault(); sendFiles(files); }
  });
  const dragging = (e) => filesOn() && e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  panel.addEventListener('dragover', (e) => { if (dragging(e)) { e.preventDefault(); panel.classList.add('dz'); } });
  panel.addEventListener('dragleave', (e) => { if (!panel.contains(e.relatedTarget)) panel.classList.remove('dz'); });
  panel.addEventListener('drop', (e) => {
    panel.classList.remove('dz');
    if (dragging(e)) { e.preventDefault(); sendFiles(e.dataTransfer.files); }
  });

  // --- frames, from any transport ----------------------------------------------------
  let replayUpTo = 0;
  function onWelcome(f) {
    if (f.token) { state.token = f.token; interacted(); }
    for (const fn of waiters.splice(0)) setTimeout(fn);
    if (f.resume !== 'ok' || (state.conv && f.conversation_id !== state.conv)) {
      clearShown();
      try { localStorage.removeItem(K.log); } catch { /* blocked */ }
    }
    state.conv = f.conversation_id;
    replayUpTo = f.seq;
    // A stream restarts from index 0 after a reconnect.
    for (const s of state.streams.values()) s.node.remove();
    state.streams.clear();
    setHandler(f);
    saveSession();
  }
  function onFrame(f) {
    switch (f && f.type) {
      case 'welcome': return onWelcome(f);
      case 'message': return show(f, f.seq <= replayUpTo && f.seq <= lastRead);
      case 'ack': {
        dropOutbox(f.id);
        const p = state.pending.get(f.id);
        if (p && p.node) setMeta(p.node, '');
        return;
      }
      case 'delta': return delta(f);
      case 'typing': return showTyping(f);
      case 'conversation': return setHandler(f);
      case 'availability': return liveAvail(f);
      case 'error': return onError(f);
      default: return undefined;
    }
  }
  // Refused messages: resend what may pass later, give up on what never will.
  function onError(f) {
    if (!f.id) { console.warn('kefu:', f.code, f.message); return; }
    const retry = ['rate_limited', 'storage_unavailable', 'internal', 'shutting_down'].includes(f.code);
    if (retry) { transport && transport.retryLater(f.id); return; }
    dropOutbox(f.id);
    const p = state.pending.get(f.id);
    if (p && p.node) {
      setMeta(p.node, 'failed' + (f.code === 'message_too_long' ? ' tooLong' : ''), true);
      announce('', tr(p.node.lastChild.dataset.t) + ': ' + p.item.text);
      state.failed.set(f.id, p.node);
      state.pending.delete(f.id);
    }
  }

  // --- transports --------------------------------------------------------------------
  // Both expose flush() (send the outbox), typing(on), retryLater(id), close().
  let transport = null;
  let wsFailures = 0;
  let attempt = 0;
  let retryTimer = 0;
  let dead = false;
  // stale: the connection that was up went silent (no heartbeat): say
  // "Reconnecting…" at once, not only after a few failed attempts.
  let stale = false;

  const backoff = () => Math.min(15000, 500 * 2 ** Math.min(attempt++, 5)) * (0.7 + Math.random() * 0.6);
  const online = () => navigator.onLine !== false;
  function status() {
    const off = !online();
    say(notice, off ? 'offline' : 'reconnecting');
    notice.hidden = !(off || (!state.connected && (stale || (transport && attempt > 1))));
  }

  async function fingerprint() {
    // Off unless the shop turned it on, and a page may turn it off (until
    // its visitor consents, say): data-fingerprint="off".
    if (!opts.fingerprint || !config.fingerprint || state.fingerprint) return state.fingerprint;
    if (!classifier.ready && !classifier.loading) classifier.load();
    // Wait a little for the wasm: the fingerprint goes in hello, but a slow
    // download must not hold the conversation up.
    await Promise.race([classifier.load(), new Promise((r) => setTimeout(r, 1500))]);
    let vid = read(K.vid, '');
    if (!vid) {
      vid = newId();
      write(K.vid, vid);
    }
    state.fingerprint = classifier.fingerprint({
      visitorId: vid, userAgent: navigator.userAgent, language: navigator.language || '',
      timeZone: (Intl.DateTimeFormat().resolvedOptions().timeZone) || '',
      screenWidth: screen.width || 0, screenHeight: screen.height || 0,
    });
    return state.fingerprint;
  }

  // connect starts a transport once the visitor has a conversation or
  // something to send; page views alone create nothing on the relay.
  function connect() {
    if (dead || transport || !online()) return;
    if (!state.token && !waiters.length && !readOutbox().some((i) => mine.has(i.id))) return;
    const c = ctx.config || {};
    transport = c.ws && wsFailures < 3 && typeof WebSocket === 'function' ? wsTransport(c) : httpTransport(c);
    status();
  }
  function lost(t, wasOpen) {
    if (transport !== t) return;
    transport = null;
    state.connected = false;
    // Three sockets that never got through: try HTTP; HTTP failing too: the socket again.
    if (!wasOpen) wsFailures = t.http ? 0 : wsFailures + 1;
    status();
    if (dead || !online()) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, backoff());
  }
  function connected() {
    state.connected = true;
    stale = false;
    attempt = 0;
    wsFailures = 0;
    status();
  }
  // watchdog calls onSilent when nothing has been heard for 2.5 heartbeats
  // (the welcome's ping_ms): a relay that froze, a path that died without
  // a close. heard() restarts it on every frame; with no ping_ms (an older
  // relay) it never fires.
  function watchdog(onSilent) {
    let timer = 0, limit = 0;
    return {
      start(pingMs) { limit = pingMs > 0 ? pingMs * 2.5 : 0; this.heard(); },
      heard() { clearTimeout(timer); if (limit) timer = setTimeout(() => { stale = true; onSilent(); }, limit); },
      stop() { clearTimeout(timer); limit = 0; },
    };
  }

  function wsTransport(c) {
    const u = new URL(url(c.ws));
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws = null, opened = false, welcomed = false, closed = false;
    const inflight = new Set();
    // A silent socket is given up at once: its close handshake could hang
    // for a minute on a dead path, so the handlers go first.
    const dog = watchdog(() => {
      if (!ws) return;
      ws.onmessage = ws.onerror = ws.onclose = null;
      lost(t, true);
      t.close();
    });
    const t = {
      flush() {
        if (!welcomed) return;
        for (const i of readOutbox()) {
          if (inflight.has(i.id)) continue;
          inflight.add(i.id);
          const f = withPage({ type: 'message', id: i.id, text: i.text }, i);
          if (i.intent) f.intent = i.intent;
          ws.send(JSON.stringify(f));
        }
      },
      typing(on) { if (welcomed) ws.send(JSON.stringify({ type: 'typing', on })); },
      identify() { if (welcomed && state.traits) ws.send(JSON.stringify({ type: 'identify', traits: state.traits })); },
      retryLater(id) { setTimeout(() => { inflight.delete(id); t.flush(); }, 1500 + Math.random() * 1000); },
      close() { closed = true; dog.stop(); if (ws) ws.close(1000); },
    };
    fingerprint().then((fp) => {
      if (closed) return;
      try {
        ws = new WebSocket(u.href);
      } catch {
        lost(t, false); // refused outright (a CSP without ws:), counts as a failure
        return;
      }
      ws.onopen = () => {
        opened = true;
        const hello = { type: 'hello', last_seq: state.lastSeq, lang: ctx.lang, ...visitContext() };
        if (state.token) hello.token = state.token;
        if (state.conv) hello.conversation_id = state.conv;
        if (fp) hello.fingerprint = fp;
        ws.send(JSON.stringify(hello));
      };
      ws.onmessage = (e) => {
        dog.heard();
        let f;
        try { f = JSON.parse(e.data); } catch { return; }
        if (f.type === 'ack') inflight.delete(f.id);
        onFrame(f);
        if (f.type === 'welcome') {
          welcomed = true; clearTimeout(guard); dog.start(f.ping_ms); connected(); t.flush();
          if (state.traits) t.identify();
        }
      };
      // A socket a CSP blocks fires error and never close; one that hangs
      // before welcome is given up after 10 s.
      const fail = () => { clearTimeout(guard); dog.stop(); lost(t, opened && welcomed); };
      const guard = setTimeout(() => { if (!welcomed) { fail(); ws.close(); } }, 10_000);
      ws.onerror = fail;
      ws.onclose = fail;
    });
    return t;
  }

  // The HTTP path (no WebSocket on the edge, or a socket that cannot get
  // through): POST to start, GET to catch up, a long-lived SSE GET for live
  // frames, and one POST per message whose reply streams the answer.
  function httpTransport(c) {
    const ctl = new AbortController();
    const inflight = new Set();
    let started = false;
    // The event stream carries the heartbeat; silence aborts everything.
    const dog = watchdog(() => ctl.abort());
    const auth = () => ({ Authorization: 'Bearer ' + state.token });
    const api = (p) => url(p.replace('{id}', encodeURIComponent(state.conv)));
    const t = {
      http: true,
      flush() {
        if (!started) return;
        for (const i of readOutbox()) {
          if (inflight.has(i.id)) continue;
          inflight.add(i.id);
          const body = withPage({ id: i.id, text: i.text }, i);
          if (i.intent) body.intent = i.intent;
          if (state.fingerprint) body.fingerprint = state.fingerprint;
          sse(api(c.sse || '/v1/conversations/{id}/messages'), {
            method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify(body),
          }, (ev, f) => {
            if (ev === 'ack') { inflight.delete(i.id); onFrame({ ...f, type: 'ack' }); } else if (ev === 'error') onFrame({ type: 'error', id: i.id, ...f });
            else if (ev !== 'done') onFrame({ ...f, type: ev });
          }).catch(() => { inflight.delete(i.id); t.retryLater(i.id); });
        }
      },
      typing() { /* no typing over HTTP */ },
      // The edge has no socket: traits go by POST, checked as on the
      // socket. A verified user's browser may be moved to the user's own
      // conversation: then start again, which finds it.
      identify() {
        if (!started || !state.traits) return;
        fetch(api('/v1/conversations/{id}/identify'), {
          method: 'POST', signal: ctl.signal, credentials: 'omit',
          headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify({ traits: state.traits }),
        }).then(async (res) => {
          const b = await res.json().catch(() => ({}));
          if (!res.ok) { console.warn('kefu:', b.error && b.error.code, b.error && b.error.message); return; }
          if (b.conversation_id && b.conversation_id !== state.conv && transport === t) { t.close(); transport = null; connect(); }
        }, () => {});
      },
      retryLater(id) { setTimeout(() => { inflight.delete(id); t.flush(); }, 2000 + Math.random() * 1000); },
      close() { dog.stop(); ctl.abort(); },
    };
    const sse = async (href, init, on, heard = () => {}) => {
      const res = await fetch(href, { ...init, signal: ctl.signal, credentials: 'omit', headers: { ...init.headers, Accept: 'text/event-stream' } });
      if (!res.ok || !res.body) {
        let e = {};
        try { e = (await res.json()).error || {}; } catch { /* not JSON */ }
        if (res.status >= 400 && res.status < 500 && e.code) return on('error', e);
        throw new Error('http ' + res.status);
      }
      const rd = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '', ev = 'message', data = [];
      for (;;) {
        const { value, done } = await rd.read();
        if (done) return undefined;
        heard();
        buf += value;
        let i;
        while ((i = buf.search(/\r?\n/)) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + (buf[i] === '\r' ? 2 : 1));
          if (line === '') {
            if (data.length) { let f; try { f = JSON.parse(data.join('\n')); } catch { f = null; } if (f) on(ev, f); }
            ev = 'message'; data = [];
          } else if (line.startsWith('event:')) ev = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
      }
    };
    (async () => {
      await fingerprint();
      const res = await fetch(url('/v1/conversations'), {
        method: 'POST', signal: ctl.signal, credentials: 'omit',
        headers: { ...(state.token ? auth() : {}), 'Content-Type': 'application/json' }, body: JSON.stringify({ lang: ctx.lang, ...visitContext() }),
      });
      if (!res.ok) throw new Error('http ' + res.status);
      const wel = await res.json();
      onWelcome({ ...wel, resume: wel.resume || 'ok' });
      const pingMs = wel.ping_ms || 0;
      const r2 = await fetch(api('/v1/conversations/{id}/messages') + '?after=' + state.lastSeq, { signal: ctl.signal, credentials: 'omit', headers: auth() });
      if (!r2.ok) throw new Error('http ' + r2.status);
      for (const m of (await r2.json()).messages || []) onFrame({ ...m, type: 'message' });
      started = true;
      connected();
      t.flush();
      t.identify();
      // Live frames until the relay ends the stream (~60 s), then again.
      for (;;) {
        dog.start(pingMs);
        await sse(api('/v1/conversations/{id}/events') + '?after=' + state.lastSeq, { headers: auth() }, (ev, f) => onFrame({ ...f, type: ev }), () => dog.heard());
      }
    })().catch(() => { dog.stop(); lost(t, started); });
    return t;
  }

  // --- other tabs, network changes ---------------------------------------------------
  function onStorage(e) {
    if (e.storageArea !== localStorage) return;
    if (e.key === K.outbox) {
      renderPending();
      connect();
      if (!state.token) {
        clearTimeout(adoptTimer);
        adoptTimer = setTimeout(() => { for (const i of readOutbox()) mine.add(i.id); connect(); }, ADOPT_MS);
      }
    }
    if (e.key === K.session && e.newValue) {
      mayStore = true;
      const s = read(K.session, {});
      if (s.token && s.token !== state.token) {
        // Another tab started (or reset) the conversation: follow it.
        state.token = s.token;
        if (s.conv !== state.conv) { clearShown(); state.conv = s.conv; }
        if (transport) { transport.close(); transport = null; }
        connect();
      }
      lastRead = Math.max(lastRead, s.read || 0);
    }
    if (e.key === K.session && !e.newValue) {
      // Another tab ended the session (Kefu.shutdown()): this one starts over as a new visitor.
      if (transport) transport.close();
      transport = null;
      clearShown();
      state.token = state.conv = '';
      mayStore = false;
    }
  }
  function onOnline() { status(); attempt = 0; clearTimeout(retryTimer); connect(); }
  // Offline: drop the socket now instead of waiting for it to time out, so
  // what is typed goes to the outbox and is sent on reconnect.
  function onOffline() { status(); if (transport) { const t = transport; lost(t, true); t.close(); } }
  function onVisible() { if (!d.hidden) { markRead(); if (!transport) { attempt = 0; connect(); } } }
  w.addEventListener('storage', onStorage);
  w.addEventListener('online', onOnline);
  w.addEventListener('offline', onOffline);
  d.addEventListener('visibilitychange', onVisible);

  function shutdownLocal() {
    dead = true;
    clearTimeout(retryTimer);
    clearTimeout(adoptTimer);
    if (transport) transport.close();
    transport = null;
    w.removeEventListener('storage', onStorage);
    w.removeEventListener('online', onOnline);
    w.removeEventListener('offline', onOffline);
    d.removeEventListener('visibilitychange', onVisible);
    if (extraAPI) extraAPI.shutdown();
  }

  // --- start --------------------------------------------------------------------------
  loadSession();
  const cached = read(K.log, null);
  if (cached && state.conv && cached.conv === state.conv && Array.isArray(cached.msgs)) {
    // Drawn at once from the cache, then resumed from the last seq.
    if (cached.msgs.length) state.lastSeq = cached.msgs[0].seq - 1; // the cache may have trimmed older ones
    for (const m of cached.msgs) show(m, true);
  }
  renderPending();
  setHandler({});
  greeting();
  showBadge();
  showFoot();
  mark('panel');
  // The page may have called Kefu.identify before this panel loaded.
  state.traits = traitsOf(ctx.identity);
  // relabel redraws every text after Kefu.setLanguage: the loader has
  // fetched the new catalogue and config.
  function relabel() {
    T = ctx.T;
    for (const e of panel.querySelectorAll('[data-t]')) e.textContent = tr(e.dataset.t);
    for (const e of panel.querySelectorAll('[data-tl]')) e.setAttribute('aria-label', tr(e.dataset.tl));
    input.placeholder = T.placeholder;
    for (const e of panel.querySelectorAll('[data-tp]')) e.placeholder = T[e.dataset.tp] || '';
    avail = (ctx.config && ctx.config.availability) || avail;
    statusLine();
    title.textContent = cfg.title;
    attachBtn.hidden = !filesOn();
    if (extraAPI) extraAPI.relabel();
    greeting();
    showBadge();
    // FAQ answers in the new language, when the shop wrote them.
    if (classifier.started) classifier.loadAnswers((ctx.config || {}).answers);
    // The relay learns the language at the next hello.
    if (transport) { const t = transport; lost(t, true); t.close(); }
  }
  ctx.attach({
    open, close, isOpen: () => isOpen, relabel,
    identify(info) {
      state.traits = traitsOf(info);
      if (transport && state.traits) transport.identify();
    },
    shutdown() { shutdownLocal(); forget(); },
    // compose puts text in the message box (Kefu.open({message})), or
    // sends it as if typed (send: true).
    compose(text, now) {
      if (now) { send(String(text)); return; }
      input.value = String(text);
      input.focus({ preventScroll: true });
    },
  });
  statusLine();
  emit('ready', { conversationId: state.conv || null });
  // A returning visitor reconnects at once (replies may have come); the
  // classifier follows, since it is in the browser cache by now.
  connect();
  if (state.token) classifier.load();
})();
