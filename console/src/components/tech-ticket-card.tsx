import { useState } from 'preact/hooks';
import type { ApiClient, Ticket } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { ActionForm } from './action-form.tsx';
import { PriorityBadge, StatusBadge } from './badges.tsx';
import { scrollIntoView } from './ticket-queue.tsx';
import { caseLabel } from '../cases.ts';

/** One of the technician's tickets: where, what the manual says to do, and the next step. */
export function TechTicketCard({ api, ticket, onChanged, focused = false }: { api: ApiClient; ticket: Ticket; onChanged: () => void; focused?: boolean }) {
  const { t, lang } = useI18n();
  const [resolving, setResolving] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const step = async (action: 'acknowledge' | 'on-site') => {
    setBusy(true);
    try {
      await api.act(ticket.id, action, {});
      setError(null);
      onChanged();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <article class={`card ticket-card prio-edge-${ticket.priority}${focused ? ' focused' : ''}`} data-testid="my-ticket" data-ticket={ticket.id} ref={focused ? scrollIntoView : undefined}>
      <header class="ticket-head">
        <PriorityBadge priority={ticket.priority} />
        <StatusBadge status={ticket.status} />
        {ticket.subject === 'customer' ? <span>{caseLabel(ticket, lang)} <span class="mono">{ticket.id}</span></span> : <span class="mono">{ticket.subjectId}</span>}
      </header>
      {ticket.description && <p data-testid="case-description">{ticket.description}</p>}
      {ticket.contact && (
        <p>
          {ticket.contact.name} <a href={`tel:${ticket.contact.phone.replace(/[^0-9+]/g, '')}`}>{ticket.contact.phone}</a>
        </p>
      )}
      {ticket.address && (
        <p class="address">
          {ticket.district && `${ticket.district} · `}
          {ticket.address}
        </p>
      )}
      {ticket.customer && <p class="muted">{t('customer')}: {ticket.customer}</p>}
      <p class="muted small">{t('dueBy')}: {formatTime(ticket.slaDueAt, lang)}</p>
      {ticket.manual.map((m) => (
        <details key={m.condition}>
          <summary>
            <span class="mono">{m.condition}</span> {m.title[lang]}
          </summary>
          <p><strong>{t('remedy')}:</strong> {m.remedy[lang]}</p>
          <p class="small"><strong>{t('toolCard')}:</strong> {m.toolCard[lang]}</p>
        </details>
      ))}
      {error && <p class="error" role="alert">{error}</p>}
      {resolving ? (
        <ActionForm
          api={api}
          ticket={ticket}
          action="resolve"
          onClose={() => setResolving(false)}
          onDone={() => {
            setResolving(false);
            onChanged();
          }}
        />
      ) : (
        <div class="big-actions">
          {ticket.status === 'dispatched' && (
            <button type="button" class="primary" disabled={busy} onClick={() => void step('acknowledge')} data-testid="acknowledge">
              {t('action.acknowledge')}
            </button>
          )}
          {ticket.status === 'acknowledged' && (
            <button type="button" class="primary" disabled={busy} onClick={() => void step('on-site')} data-testid="on-site">
              {t('action.on-site')}
            </button>
          )}
          {(ticket.status === 'acknowledged' || ticket.status === 'on_site') && (
            <button type="button" disabled={busy} onClick={() => setResolving(true)} data-testid="resolve">
              {t('action.resolve')}
            </button>
          )}
        </div>
      )}
    </article>
  );
}
