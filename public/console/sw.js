// The console's service worker: shows a Web Push notification from the
// relay (a conversation waiting for a person) with the console closed, and
// opens the console on that conversation when it is clicked. The payload
// is JSON the relay made ({title, body, url, conversation_id}); its text
// is shown as plain text by the browser.

self.addEventListener('push', (event) => {
  let n;
  try { n = event.data ? event.data.json() : {}; } catch { n = {}; }
  const url = typeof n.url === 'string' && n.url.startsWith('/console/') ? n.url : '/console/';
  event.waitUntil(self.registration.showNotification(n.title || 'Kefu', {
    body: n.body || '',
    tag: n.conversation_id || 'kefu',
    icon: '/console/icon.svg',
    data: { url },
  }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || '/console/', self.location.origin).href;
  event.waitUntil((async () => {
    const open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    for (const c of open) {
      if (new URL(c.url).pathname.startsWith('/console/')) {
        await c.focus();
        return c.navigate(url);
      }
    }
    return self.clients.openWindow(url);
  })());
});
