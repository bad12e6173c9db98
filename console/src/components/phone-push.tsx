import { useEffect, useState } from 'preact/hooks';
import { ApiError, type ApiClient } from '../api.ts';
import { useI18n } from '../i18n.ts';

type State = 'checking' | 'unsupported' | 'unavailable' | 'off' | 'on' | 'denied' | 'working';

const supported = (): boolean => 'serviceWorker' in navigator && 'PushManager' in window && typeof Notification !== 'undefined';

/** The console's service worker (console/public/sw.js) draws Web Push notifications and their 接单/到场 buttons. */
const registration = (): Promise<ServiceWorkerRegistration> => navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`);

/** applicationServerKey wants the key's bytes; the API sends it base64url. */
function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64url.replace(/-/g, '+').replace(/_/g, '/'));
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * "Enable phone notifications": subscribes this browser to Web Push for the token's person, so a
 * dispatched ticket reaches the phone with the console closed. iPhones can only subscribe from
 * the home-screen web app (iOS 16.4+).
 */
export function PhonePushToggle({ api }: { api: ApiClient }) {
  const { t } = useI18n();
  const [state, setState] = useState<State>('checking');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!supported()) return setState('unsupported');
    if (Notification.permission === 'denied') return setState('denied');
    let stale = false;
    registration()
      .then((reg) => reg.pushManager.getSubscription())
      .then(
        (sub) => !stale && setState(sub ? 'on' : 'off'),
        () => !stale && setState('unsupported'),
      );
    return () => {
      stale = true;
    };
  }, []);

  const enable = async () => {
    setState('working');
    setError(null);
    try {
      // Asked inside the tap: browsers refuse a permission prompt nobody asked for.
      if ((await Notification.requestPermission()) !== 'granted') return setState('denied');
      const publicKey = await api.vapidPublicKey();
      const reg = await registration();
      const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
      await api.subscribePush(sub.toJSON());
      setState('on');
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return setState('unavailable');
      setError(String(err));
      setState('off');
    }
  };

  const disable = async () => {
    setState('working');
    setError(null);
    try {
      const sub = await (await registration()).pushManager.getSubscription();
      if (sub) {
        // Already gone on the server (the push service expired it) is what we want anyway.
        await api.unsubscribePush(sub.endpoint).catch((err: unknown) => {
          if (!(err instanceof ApiError && err.status === 404)) throw err;
        });
        await sub.unsubscribe();
      }
      setState('off');
    } catch (err) {
      setError(String(err));
      setState('on');
    }
  };

  return (
    <span class="phone-push" data-testid="phone-push" data-state={state}>
      {state === 'off' && <button type="button" onClick={() => void enable()}>{t('phonePush.enable')}</button>}
      {state === 'on' && (
        <>
          <span class="muted small">{t('phonePush.on')}</span>{' '}
          <button type="button" onClick={() => void disable()}>{t('phonePush.disable')}</button>
        </>
      )}
      {state === 'unsupported' && <span class="muted small">{t('phonePush.unsupported')}</span>}
      {state === 'unavailable' && <span class="muted small">{t('phonePush.unavailable')}</span>}
      {state === 'denied' && <span class="muted small">{t('notificationsBlocked')}</span>}
      {error && <span class="error small" role="alert">{t('failed')}: {error}</span>}
    </span>
  );
}
