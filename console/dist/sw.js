// The console's service worker. Chrome on Android shows notifications only through a service
// worker (the page's `new Notification()` throws there), and Web Push (alerts/push/web-push/)
// reaches the phone here while the console is closed. It caches nothing.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

// The scope is the console's own address (…/console/): its hash routes are built on it.
const consoleUrl = (hash) => `${self.registration.scope}${hash}`;
const ticketUrl = (ticketId) => (ticketId ? consoleUrl(`#/tickets/${encodeURIComponent(ticketId)}`) : self.registration.scope);

// A push from the web-push channel: the payload's README is alerts/push/web-push/README.md.
self.addEventListener('push', (event) => {
  let data;
  try {
    data = event.data ? event.data.json() : undefined;
  } catch {
    data = undefined;
  }
  if (!data || typeof data.title !== 'string') return;
  const actions = Array.isArray(data.actions) ? data.actions : [];
  // The tokens stay in the notification: a button or a tap redeems one.
  const tokens = Object.fromEntries(actions.map((a) => [a.action, a.token]));
  const max = self.Notification && typeof Notification.maxActions === 'number' ? Notification.maxActions : 2;
  event.waitUntil(
    self.registration.showNotification(data.title, {
      body: data.body,
      lang: 'zh-CN',
      // One notification per ticket, and a repeat of an alarm rings again.
      tag: data.tag,
      renotify: Boolean(data.tag),
      requireInteraction: Boolean(data.requireInteraction),
      actions: actions.slice(0, max).map((a) => ({ action: a.action, title: a.title })),
      data: { ticketId: data.ticketId, tokens },
    }),
  );
});

/** Brings a console window to `url`, or opens one. */
async function openConsole(url) {
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const mine = windows.find((w) => w.url.startsWith(self.registration.scope));
  if (mine) {
    try {
      const moved = await mine.navigate(url);
      return (moved ?? mine).focus();
    } catch {
      // A window this worker does not control cannot be navigated: open a new one.
    }
  }
  return self.clients.openWindow(url);
}

/** 接单 / 到场 from the notification itself: the token is the credential, no log-in needed. */
async function act(token, ticketId, tag, title) {
  let message;
  // A leak pushed ahead of its ticket names no ticket: the answer says which one the tap acted on.
  let acted = ticketId;
  try {
    const res = await fetch('/hooks/v1/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    const body = await res.json().catch(() => ({}));
    if (res.ok && body.ticketId) acted = body.ticketId;
    message = res.ok ? `${title} ✓ ${acted}` : `${title} ✗ ${body.message ?? `HTTP ${res.status}`}`;
  } catch (err) {
    message = `${title} ✗ ${String(err)}`;
  }
  // Replaces the pushed notification (same tag) with what became of the tap, so the phone shows the outcome.
  await self.registration.showNotification(message, { tag, lang: 'zh-CN', data: { ticketId: acted, tokens: {} } });
  return openConsole(ticketUrl(acted));
}

self.addEventListener('notificationclick', (event) => {
  const { ticketId, tokens } = event.notification.data ?? {};
  const title = event.notification.actions?.find((a) => a.action === event.action)?.title ?? event.action;
  event.notification.close();
  if (event.action && tokens?.[event.action]) {
    event.waitUntil(act(tokens[event.action], ticketId, event.notification.tag || undefined, title));
    return;
  }
  // A plain tap (and every tap on an iPhone, which shows no buttons) opens the one-tap screen.
  const token = tokens?.acknowledge;
  event.waitUntil(openConsole(token ? consoleUrl(`#/act/${token}`) : ticketUrl(ticketId)));
});
