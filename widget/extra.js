/* Kefu panel extras: files — sent by picker, paste or drop, with progress,
 * resumed where the relay stands after a dropped connection; shown as
 * thumbnails that open full size, or as downloads — and the rating of a
 * closed conversation. panel.js loads this the first time a file or a
 * rating is needed and hands it its hooks through the <script> element.
 *
 * Files are fetched with the visitor's token (the relay serves them to
 * the conversation's people only) and shown as data: URLs, which shops'
 * CSPs allow for images far more often than blob: ones. Names and
 * comments reach the page as text only. */
(() => {
  'use strict';
  const H = document.currentScript && document.currentScript.kefu;
  if (!H) return;
  const d = document;
  const { el, icon, say, sayLabel, fill, url, keepBottom, pend, list, panel } = H;

  H.addSheet(`
.t.fi{padding:4px;overflow:hidden}
.th{display:block;padding:0;border-radius:10px;overflow:hidden;cursor:zoom-in;line-height:0}
.th img{display:block;max-width:220px;max-height:220px;width:auto;height:auto;min-width:40px;min-height:40px;background:var(--bd)}
.dl{display:flex;gap:8px;align-items:center;padding:4px 8px;text-align:start;max-width:240px}
.dl svg{width:26px;height:26px;fill:currentColor;flex:none}
.dl span{overflow-wrap:anywhere}.dl small{display:block;opacity:.8;font-size:12px}
.up .t{min-width:190px}
.up img{display:block;max-width:120px;max-height:90px;border-radius:8px;margin-bottom:6px}
.pg{height:4px;border-radius:2px;background:rgba(127,127,127,.35);overflow:hidden;margin-top:6px}
.pg i{display:block;height:100%;width:0;background:currentColor;transition:width .2s}
.ux{font-size:12px;text-decoration:underline;margin-top:4px}
.lb{position:absolute;inset:0;z-index:3;background:rgba(0,0,0,.88);display:flex;align-items:center;justify-content:center;padding:48px 8px 8px}
.lb img{max-width:100%;max-height:100%;object-fit:contain}
.lb button{position:absolute;top:8px;inset-inline-end:8px;width:40px;height:40px;border-radius:8px;background:rgba(255,255,255,.15);color:#fff;display:flex;align-items:center;justify-content:center}
.lb svg{width:22px;height:22px;fill:currentColor}
.rc{align-self:stretch;border:1px solid var(--bd);border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:8px;background:var(--bg)}
.rc p{margin:0}.rc .rt{font-weight:600}
.rs{display:flex;gap:2px}
.rs button{font-size:26px;line-height:1;padding:2px 4px;color:#f59e0b;border-radius:6px}
.rs button[aria-checked=false]{color:var(--mu)}
.rc textarea{flex:none;height:64px;width:100%}
.rc .rb{align-self:flex-end;padding:6px 14px;border-radius:8px;background:var(--c);color:var(--fg)}
.rc [hidden]{display:none}
.rm{font-size:13px;color:var(--mu)}
`);

  const T = () => H.T;
  const api = (path) => url('/v1/conversations/' + encodeURIComponent(H.session().conv) + path);
  const auth = () => ({ Authorization: 'Bearer ' + H.session().token });
  const newId = () => {
    const b = crypto.getRandomValues(new Uint8Array(9));
    return 'f' + Date.now().toString(36) + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  const size = (n) => (n >= 1048576 ? (n / 1048576).toFixed(n % 1048576 ? 1 : 0) + ' MB' : n >= 1024 ? Math.round(n / 1024) + ' KB' : n + ' B');
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const dataURL = (blob) => new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
  let dead = false;

  // --- sending ------------------------------------------------------------
  // Parts of 256 KB: progress moves often, and a dropped connection costs
  // little. The relay stores each part before answering it.
  const PART = 256 * 1024;
  const TYPES = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain)$/;
  const EXTS = /\.(png|jpe?g|gif|webp|pdf|txt|log|csv|tsv|md|json)$/i;
  const running = new Set();
  // One upload at a time, in the order given: files are stored (and
  // shown to the agent) in the order the visitor chose them, and one
  // slow uplink is not split between several.
  let queue = Promise.resolve();

  function send(files) {
    for (const f of files) start(f);
  }

  // A pending bubble: the name, a preview of an image, progress, cancel.
  function bubble(file) {
    const g = el('div', 'g vi up');
    g.append(say(el('div', 'sr'), 'you'));
    const t = el('div', 't');
    t.dir = 'auto';
    const name = el('div', '', file.name || 'file');
    const bar = el('div', 'pg');
    const fillBar = el('i');
    bar.append(fillBar);
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', '0');
    bar.setAttribute('aria-label', fill(T().uploading, { name: file.name || 'file' }));
    const cancel = say(el('button', 'ux'), 'cancel');
    cancel.type = 'button';
    t.append(name, bar, cancel);
    g.append(t, el('div', 'me'));
    g.lastChild.hidden = true;
    if (/^image\//.test(file.type) && file.size <= 5 << 20) {
      dataURL(file).then((src) => { const img = el('img'); img.alt = ''; img.src = src; t.prepend(img); }, () => {});
    }
    keepBottom(() => pend.append(g));
    list.scrollTop = list.scrollHeight;
    return { g, t, bar, fillBar, cancel };
  }

  function start(file) {
    const max = (H.config.files || {}).max_bytes || 0;
    const ui = bubble(file);
    const up = { id: newId(), file, ui, offset: 0, xhr: null, cancelled: false, sent: false };
    ui.cancel.addEventListener('click', () => cancel(up));
    const name = file.name || 'file';
    if (file.size > max) return fail(up, fill(T().fileTooBig, { name, size: size(file.size), max: size(max) }));
    if (file.size === 0) return fail(up, fill(T().fileEmpty, { name }));
    if (!TYPES.test(file.type) && !(file.type === '' && EXTS.test(name))) return fail(up, fill(T().fileType, { name }));
    running.add(up);
    queue = queue.then(() => (up.cancelled || dead ? undefined : run(up)).catch((e) => {
      if (!up.cancelled) fail(up, refusal(e, name));
    }).finally(() => running.delete(up)));
    return undefined;
  }

  // refusal turns the relay's error code into the visitor's language.
  function refusal(e, name) {
    const key = { file_type: 'fileType', file_unreadable: 'fileDamaged', file_too_big: 'fileTooBig', quota_exceeded: 'fileQuota' }[e.code] || 'fileFailed';
    const max = (H.config.files || {}).max_bytes || 0;
    return fill(T()[key], { name, size: '', max: size(max) });
  }

  function httpError(status, body) {
    const e = new Error('http ' + status);
    e.status = status;
    e.code = body && body.error && body.error.code;
    // Worth trying again: the network, the relay busy or restarting.
    e.retry = status === 0 || status >= 500 || status === 429;
    return e;
  }

  async function call(method, path, body) {
    let res;
    try {
      res = await fetch(api(path), {
        method, credentials: 'omit',
        headers: body ? { ...auth(), 'Content-Type': 'application/json' } : auth(),
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw httpError(0, null);
    }
    let b = null;
    try { b = await res.json(); } catch { /* no body */ }
    if (!res.ok) throw httpError(res.status, b);
    return b;
  }

  // part sends one part with XMLHttpRequest, whose upload progress fetch
  // cannot give.
  function part(up, blob) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      up.xhr = x;
      x.open('POST', api('/uploads/' + up.id + '?offset=' + up.offset));
      x.setRequestHeader('Authorization', auth().Authorization);
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.timeout = 120_000;
      x.upload.onprogress = (e) => progress(up, up.offset + e.loaded);
      x.onload = () => {
        let b = null;
        try { b = JSON.parse(x.responseText); } catch { /* not JSON */ }
        if (x.status === 200) resolve(b); else reject(httpError(x.status, b));
      };
      x.onerror = x.ontimeout = () => reject(httpError(0, null));
      x.onabort = () => reject(Object.assign(new Error('cancelled'), { cancelled: true }));
      x.send(blob);
    });
  }

  function progress(up, at) {
    const pct = Math.min(100, Math.round((at / Math.max(1, up.file.size)) * 100));
    up.ui.fillBar.style.width = pct + '%';
    up.ui.bar.setAttribute('aria-valuenow', String(pct));
  }

  // run sends the file part by part. A lost connection or a busy relay is
  // waited out, then the upload goes on from where the relay says it is.
  async function run(up) {
    await H.started();
    const { file } = up;
    let tries = 0;
    const again = async (e) => {
      if (!e.retry || up.cancelled || dead) throw e;
      await wait(Math.min(15000, 500 * 2 ** Math.min(tries++, 5)) * (0.7 + Math.random() * 0.6));
    };
    let st = null;
    while (!st) {
      try { st = await call('POST', '/uploads', { id: up.id, name: file.name || 'file', size: file.size }); } catch (e) { await again(e); }
    }
    up.offset = st.offset;
    const n = Math.min(PART, st.part || PART);
    while (!st.done) {
      if (up.cancelled || dead) return;
      try {
        st = await part(up, file.slice(up.offset, up.offset + n));
        up.offset = st.offset;
        tries = 0;
        progress(up, up.offset);
      } catch (e) {
        if (e.cancelled) return;
        if (e.status !== 409) await again(e);
        // Where does it stand? (A lost answer, a relay that restarted.)
        try {
          st = await call('GET', '/uploads/' + up.id);
          up.offset = st.offset;
        } catch (e2) {
          // Gone after every byte went: it was finished, and its message
          // comes over the connection.
          if (e2.status === 404 && up.offset + n >= file.size) return;
          if (!e2.retry) throw e2;
          st = { done: false };
        }
      }
    }
    up.ui.g.remove();
    if (st.message) H.show(st.message);
  }

  function cancel(up) {
    up.cancelled = true;
    running.delete(up);
    if (up.xhr) up.xhr.abort();
    up.ui.g.remove();
    if (up.offset > 0 || up.xhr) call('POST', '/uploads/' + up.id + '/cancel').catch(() => {});
  }

  function fail(up, text) {
    const { g, t, bar, cancel: c } = up.ui;
    bar.remove();
    c.remove();
    g.classList.add('fail');
    const me = g.lastChild;
    me.textContent = text;
    me.hidden = false;
    me.setAttribute('role', 'alert');
    const x = say(el('button', 'ux'), 'remove');
    x.type = 'button';
    x.addEventListener('click', () => g.remove());
    t.append(x);
  }

  // --- showing ------------------------------------------------------------
  const cache = new Map(); // attachment id (+ ":t") → data: URL promise

  function load(a, thumb) {
    const key = a.id + (thumb ? ':t' : '');
    if (!cache.has(key)) {
      const p = fetch(api('/attachments/' + encodeURIComponent(a.id) + (thumb ? '?thumb=1' : '')), { credentials: 'omit', headers: auth() })
        .then((res) => { if (!res.ok) throw new Error('kefu: attachment ' + res.status); return res.blob(); });
      cache.set(key, thumb || /^image\//.test(a.type) ? p.then(dataURL) : p);
      cache.get(key).catch(() => cache.delete(key));
    }
    return cache.get(key);
  }

  // render turns a message's text (the file's name) into the file: a
  // thumbnail that opens full size, or a download.
  function render(t, m) {
    const a = m.attachment;
    if (!a || !a.id || dead) return;
    t.classList.add('fi');
    if (/^image\//.test(a.type)) {
      const b = el('button', 'th');
      b.type = 'button';
      b.setAttribute('aria-label', fill(T().openImage, { name: a.name }));
      b.title = a.name;
      const img = el('img');
      img.alt = a.name;
      if (a.width && a.height) {
        const k = Math.min(1, 220 / Math.max(a.width, a.height));
        img.width = Math.max(40, Math.round(a.width * k));
        img.height = Math.max(40, Math.round(a.height * k));
      }
      b.append(img);
      t.replaceChildren(b);
      load(a, !!a.thumb).then((src) => { img.src = src; }, () => { t.replaceChildren(el('span', '', a.name)); });
      b.addEventListener('click', () => lightbox(a, b));
      return;
    }
    const b = el('button', 'dl');
    b.type = 'button';
    b.setAttribute('aria-label', fill(T().download, { name: a.name }));
    b.append(icon('M6 2h8l6 6v14H6zm7 1.5V9h5.5zM12 11v6.2l-2.6-2.6-1.4 1.4 5 5 5-5-1.4-1.4-2.6 2.6V11z'));
    const label = el('span', '', a.name);
    label.append(el('small', '', size(a.size)));
    b.append(label);
    t.replaceChildren(b);
    b.addEventListener('click', () => download(a));
  }

  async function download(a) {
    try {
      const blob = await load(a, false);
      const href = URL.createObjectURL(blob);
      const link = el('a');
      link.href = href;
      link.download = a.name;
      d.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
    } catch (e) {
      console.warn(e.message);
    }
  }

  let box = null;
  function lightbox(a, from) {
    closeBox();
    box = el('div', 'lb');
    box.setAttribute('role', 'dialog');
    box.setAttribute('aria-modal', 'true');
    box.setAttribute('aria-label', a.name);
    const x = el('button');
    x.type = 'button';
    sayLabel(x, 'closeImage');
    x.append(icon('M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'));
    const img = el('img');
    img.alt = a.name;
    box.append(img, x);
    panel.append(box);
    const done = () => { closeBox(); from.focus(); };
    x.addEventListener('click', done);
    box.addEventListener('click', (e) => { if (e.target === box) done(); });
    box.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); done(); } });
    x.focus();
    load(a, false).then((src) => { img.src = src; }, () => {});
  }
  function closeBox() { if (box) { box.remove(); box = null; } }

  // --- the rating -----------------------------------------------------------
  let card = null;

  // askRating shows the card (want), or takes it away when the
  // conversation is open again; once rated it stays for the comment.
  function askRating(want = true, closed = want) {
    if (!want) {
      // A rating on its way (its message may come before the answer)
      // or given keeps the card while the conversation stays closed.
      if (card && (!closed || !(card.rated || card.sending))) { card.node.remove(); card = null; }
      return;
    }
    if (card || dead) return;
    const node = el('div', 'rc');
    node.setAttribute('role', 'group');
    const title = say(el('p', 'rt'), 'rateTitle');
    title.id = 'kefu-rate-title';
    node.setAttribute('aria-labelledby', title.id);
    const stars = el('div', 'rs');
    stars.setAttribute('role', 'radiogroup');
    sayLabel(stars, 'rateTitle');
    const buttons = [1, 2, 3, 4, 5].map((n) => {
      const b = el('button', '', '★');
      b.type = 'button';
      b.setAttribute('role', 'radio');
      b.setAttribute('aria-checked', 'false');
      b.setAttribute('aria-label', fill(T().rateStar, { n }));
      b.dataset.n = n;
      return b;
    });
    stars.append(...buttons);
    const comment = el('textarea');
    comment.dataset.tp = 'rateComment';
    comment.placeholder = T().rateComment;
    sayLabel(comment, 'rateComment');
    comment.maxLength = 1000;
    comment.hidden = true;
    const sendBtn = say(el('button', 'rb'), 'rateSend');
    sendBtn.type = 'button';
    sendBtn.hidden = true;
    const msg = el('p', 'rm');
    msg.setAttribute('role', 'status');
    node.append(title, stars, comment, sendBtn, msg);
    card = { node, rated: false, sending: false, score: 0 };
    const mine = card;
    const rate = async (body) => {
      for (const b of [...buttons, sendBtn]) b.disabled = true;
      mine.sending = true;
      try {
        await call('POST', '/rating', body);
        mine.rated = true;
        return true;
      } catch {
        say(msg, 'rateFailed');
        return false;
      } finally {
        mine.sending = false;
        for (const b of [...buttons, sendBtn]) b.disabled = false;
      }
    };
    const pick = async (n) => {
      mine.score = n;
      for (const b of buttons) b.setAttribute('aria-checked', String(+b.dataset.n <= n));
      if (await rate({ id: newId(), score: n })) {
        say(msg, 'rateThanks');
        comment.hidden = sendBtn.hidden = false;
      }
    };
    for (const b of buttons) b.addEventListener('click', () => pick(+b.dataset.n));
    sendBtn.addEventListener('click', async () => {
      const text = comment.value.trim();
      if (!text) return;
      if (await rate({ id: newId(), score: mine.score, comment: text })) {
        comment.hidden = sendBtn.hidden = true;
        stars.hidden = true;
        say(msg, 'rateThanks');
      }
    });
    keepBottom(() => list.append(node));
  }

  // shown: an upload's message arrived over the connection (its answer
  // may have been lost): its pending bubble goes.
  function shown(m) {
    for (const up of running) {
      if (m.id === 'upload:' + up.id) { up.cancelled = true; up.ui.g.remove(); running.delete(up); }
    }
  }

  H.attach({
    send, render, askRating, shown,
    relabel() { if (card) for (const e of card.node.querySelectorAll('[data-tp]')) e.placeholder = T()[e.dataset.tp]; },
    shutdown() {
      dead = true;
      for (const up of running) { up.cancelled = true; if (up.xhr) up.xhr.abort(); }
      running.clear();
      cache.clear();
      closeBox();
    },
  });
})();
