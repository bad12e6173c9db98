import { useState } from 'preact/hooks';
import type { ApiClient, TicketDelivery, TicketDeliveryStatus } from '../api.ts';
import { formatTime, useI18n, type MessageKey } from '../i18n.ts';

const STATUS_TEXT: Record<TicketDeliveryStatus, MessageKey> = {
  pending: 'push.pending',
  sent: 'push.sent',
  delivered: 'push.delivered',
  failed: 'push.failed',
  not_delivered: 'push.not_delivered',
};

/**
 * A ticket's pushes per notice, person and channel (GET /tickets/:id `deliveries`), loaded when
 * opened: the queue lists many tickets and only a question about one needs them.
 */
export function TicketDeliveries({ api, ticketId }: { api: ApiClient; ticketId: string }) {
  const { t, lang } = useI18n();
  const [rows, setRows] = useState<TicketDelivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = (open: boolean) => {
    if (!open) return;
    api.ticket(ticketId).then(
      (d) => {
        setRows(d.deliveries);
        setError(null);
      },
      (err: unknown) => setError(String(err)),
    );
  };

  return (
    <details class="deliveries" data-testid="ticket-deliveries" onToggle={(e) => load((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>{t('pushesTitle')}</summary>
      {error && <p class="error small">{t('failed')}: {error}</p>}
      {rows === null && !error && <p class="muted small">{t('loading')}</p>}
      {rows?.length === 0 && <p class="muted small">{t('pushesEmpty')}</p>}
      {rows && rows.length > 0 && (
        <ul class="small">
          {rows.map((d) => (
            <li key={`${d.noticeId}/${d.recipientId}/${d.channel}`} data-testid="delivery" data-status={d.status}>
              {d.recipientId} · {d.channel} · <strong>{t(STATUS_TEXT[d.status])}</strong>
              {d.attempts > 1 && ` ×${d.attempts}`}
              {d.sentAt && ` ${formatTime(d.sentAt, lang)}`}
              {d.readAt && ` · ${t('pushRead')} ${formatTime(d.readAt, lang)}`}
              {d.status === 'pending' && d.waitsFor && ` · ${t('pushWaitsFor')} ${d.waitsFor}`}
              {d.status === 'pending' && d.attempts === 0 && d.nextAttemptAt && ` · ${t('pushHeldUntil')} ${formatTime(d.nextAttemptAt, lang)}`}
              {d.lastError && d.status !== 'sent' && d.status !== 'delivered' && <span class="muted"> · {d.lastError}</span>}
              {d.acknowledgedVia && <span> · {t('pushAckVia')} {d.acknowledgedVia}</span>}
              <span class="muted"> · {d.kind}</span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}
