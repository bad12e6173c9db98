import { useEffect, useState } from 'preact/hooks';
import { type ApiClient, type CustomerNotice, DELIVERY_STATUSES, type DeliveryStatus } from '../api.ts';
import { conditionLabel } from '../conditions.ts';
import { formatTime, useI18n } from '../i18n.ts';

/** Delivered, sending, failed or not sent, in the console's language. */
function DeliveryBadge({ status }: { status: DeliveryStatus }) {
  const { t } = useI18n();
  return <span class={`badge delivery-${status}`} data-testid="delivery-status">{t(`delivery.${status}`)}</span>;
}

/**
 * Customer notices (余额不足 / 余额用完) and whether they reached the customer, newest first, for the
 * call centre to follow up those that failed or were not sent. Reloaded on demand: deliveries are
 * not pushed to the console.
 */
export function CustomerNotices({ api }: { api: ApiClient }) {
  const { t, lang } = useI18n();
  const [status, setStatus] = useState<DeliveryStatus | undefined>(undefined);
  const [notices, setNotices] = useState<CustomerNotice[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0);

  useEffect(() => {
    let stale = false;
    api.customerNotices(status ? { status } : {}).then(
      (items) => {
        if (stale) return;
        setNotices(items);
        setError(null);
      },
      (err: unknown) => !stale && setError(String(err)),
    );
    return () => {
      stale = true;
    };
  }, [api, status, reloads]);

  const filter = (value: DeliveryStatus | undefined, label: string) => (
    <button type="button" class={status === value ? 'active' : ''} onClick={() => setStatus(value)}>{label}</button>
  );
  return (
    <section>
      <p class="muted">{t('customerNoticesHint')}</p>
      <div class="toolbar">
        {filter(undefined, t('deliveryAll'))}
        {DELIVERY_STATUSES.map((s) => filter(s, t(`delivery.${s}`)))}
        <button type="button" onClick={() => setReloads((n) => n + 1)}>{t('refresh')}</button>
      </div>
      {error && <p class="error">{t('failed')}: {error}</p>}
      {notices === null && !error && <p class="muted">{t('loading')}</p>}
      {notices?.length === 0 && <p class="muted card" data-testid="customer-notices-empty">{t('customerNoticesEmpty')}</p>}
      {notices && notices.length > 0 && (
        <table class="grid" data-testid="customer-notices">
          <thead>
            <tr>
              <th>{t('col.created')}</th>
              <th>{t('col.device')}</th>
              <th>{t('customer')}</th>
              <th>{t('col.condition')}</th>
              <th class="wide-only">{t('col.notice')}</th>
              <th>{t('col.delivery')}</th>
              <th class="wide-only">{t('col.channel')}</th>
              <th class="wide-only">{t('col.attempts')}</th>
              <th>{t('col.lastAttempt')}</th>
            </tr>
          </thead>
          <tbody>
            {notices.map((n) => (
              <tr key={n.id} data-testid="customer-notice" data-device={n.deviceId} data-status={n.delivery.status}>
                <td>{formatTime(n.createdAt, lang)}</td>
                <td>
                  <a href={`#/device/${encodeURIComponent(n.deviceId)}`}>{n.deviceId}</a>
                </td>
                <td>{n.customer ?? '—'}</td>
                <td>{conditionLabel(n.condition, lang).name}</td>
                <td class="wide-only">
                  {n.title && <strong>{n.title[lang]}</strong>}
                  {n.body && <div class="small">{n.body[lang]}</div>}
                </td>
                <td>
                  <DeliveryBadge status={n.delivery.status} />
                  {n.delivery.reason && <div class="small muted" data-testid="delivery-reason">{n.delivery.reason}</div>}
                  {n.delivery.nextAttemptAt && (
                    <div class="small muted">
                      {t('nextAttempt')}: {formatTime(n.delivery.nextAttemptAt, lang)}
                    </div>
                  )}
                </td>
                <td class="wide-only mono">{n.delivery.channel === null || n.delivery.channel === 'none' ? t('noCustomerChannel') : n.delivery.channel}</td>
                <td class="wide-only">{n.delivery.attempts}</td>
                <td>{formatTime(n.delivery.lastAttemptAt, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
