// A knowledge-base article, at /help/{id}: the page an AI answer links to
// when the article has no address of its own. The body is rendered by the
// shared strict markdown renderer (DOM nodes, never HTML).
import { renderInto } from '../shared/markdown.js';

const id = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() || '');
const title = document.getElementById('title');
const body = document.getElementById('body');

async function show() {
  const res = await fetch('/v1/kb/' + encodeURIComponent(id), { credentials: 'omit' });
  if (!res.ok) {
    title.textContent = res.status === 404 ? 'This article does not exist (any more).' : 'The article could not be loaded. Please try again.';
    return;
  }
  const a = await res.json();
  title.textContent = a.title;
  document.title = a.title;
  renderInto(body, a.body, { base: location.origin });
  if (a.url) {
    const link = document.getElementById('source-link');
    link.href = a.url;
    link.textContent = a.url;
    document.getElementById('source').hidden = false;
  }
}

show().catch(() => { title.textContent = 'The article could not be loaded. Please try again.'; });
