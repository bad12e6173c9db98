import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';

const supported = (): boolean => typeof Notification !== 'undefined';

/** Shows a browser notification when the user allowed them; `tag` keeps a repeated notice to one. */
export function notify(title: string, body: string, tag: string): void {
  if (!supported() || Notification.permission !== 'granted') return;
  try {
    new Notification(title, { body, tag });
  } catch {
    // Chrome on Android refuses page notifications: show it through the console's service worker.
    void viaServiceWorker(title, body, tag);
  }
}

async function viaServiceWorker(title: string, body: string, tag: string): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`);
    const registration = await navigator.serviceWorker.ready;
    await registration.showNotification(title, { body, tag });
  } catch {
    // No way to notify on this browser: the ticket list has already been reloaded.
  }
}

/** Asking needs a tap (browsers refuse a prompt nobody asked for), so the view offers a button. */
export function NotificationToggle() {
  const { t } = useI18n();
  const [permission, setPermission] = useState(() => (supported() ? Notification.permission : 'denied'));
  if (permission === 'granted') return null;
  if (permission === 'denied') return <span class="muted small">{t('notificationsBlocked')}</span>;
  return (
    <button type="button" onClick={() => void Notification.requestPermission().then(setPermission)}>
      {t('enableNotifications')}
    </button>
  );
}
