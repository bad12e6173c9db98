import { useState } from 'preact/hooks';
import { useI18n } from '../i18n.ts';

const supported = (): boolean => typeof Notification !== 'undefined';

/** Shows a browser notification when the user allowed them; `tag` keeps a repeated notice to one. */
export function notify(title: string, body: string, tag: string): void {
  if (!supported() || Notification.permission !== 'granted') return;
  // Some mobile browsers only notify through a service worker and throw here; the list still updates.
  try {
    new Notification(title, { body, tag });
  } catch {
    /* the ticket list below is the fallback */
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
