import { useEffect, useState } from 'preact/hooks';
import { OPEN_STATUSES, type ApiClient, type Ticket, type TicketStatus } from '../api.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { PriorityBadge, StatusBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';
import { caseLabel } from '../cases.ts';
import { StaffActions } from './staff-actions.tsx';
import { TicketDeliveries } from './ticket-deliveries.tsx';

const DONE_STATUSES: readonly TicketStatus[] = ['resolved', 'followed_up', 'closed', 'cancelled'];

/**
 * The ticket queue for the call centre. Reloaded when `reloadKey` changes (an alarm was raised
 * or cleared, which opens or updates tickets), after an action, and on demand: technicians'
 * actions are not pushed to the control room.
 */
/** Brings the ticket a link pointed at into view. */
export const scrollIntoView = (el: HTMLElement | null): void => el?.scrollIntoView({ block: 'center' });

/** The queue; `focus` (from a ticket link) marks that ticket's row and scrolls to it. */
export function TicketQueue({ api, reloadKey, focus }: { api: ApiClient; reloadKey: number; focus?: string }) {
  const { t, lang } = useI18n();
  const [showDone, setShowDone] = useState(false);
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [manualReloads, setManualReloads] = useState(0);

  useEffect(() => {
    let stale = false;
    api.tickets(showDone ? DONE_STATUSES : OPEN_STATUSES).then(
      (items) => {
        if (stale) return;
        setTickets(items);
        setError(null);
      },
      (err: unknown) => !stale && setError(String(err)),
    );
    return () => {
      stale = true;
    };
  }, [api, showDone, reloadKey, manualReloads]);
  const reload = () => setManualReloads((n) => n + 1);

  return (
    <section>
      <div class="toolbar">
        <button type="button" class={showDone ? '' : 'active'} onClick={() => setShowDone(false)}>{t('showOpen')}</button>
        <button type="button" class={showDone ? 'active' : ''} onClick={() => setShowDone(true)}>{t('showDone')}</button>
        <button type="button" onClick={reload}>{t('refresh')}</button>
      </div>
      {error && <p class="error">{t('failed')}: {error}</p>}
      {tickets === null && <p class="muted">{t('loading')}</p>}
      {tickets?.length === 0 && <p class="muted card">{t('ticketsEmpty')}</p>}
      {tickets && tickets.length > 0 && (
        <table class="grid" data-testid="tickets">
          <thead>
            <tr>
              <th>{t('col.priority')}</th>
              <th>{t('col.status')}</th>
              <th>{t('col.device')}</th>
              <th>{t('col.condition')}</th>
              <th class="wide-only">{t('col.district')}</th>
              <th class="wide-only">{t('col.address')}</th>
              <th>{t('col.assignee')}</th>
              <th>{t('col.slaDue')}</th>
              <th>{t('col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {tickets.map((tk) => (
              <tr key={tk.id} data-testid="ticket" data-ticket={tk.id} class={tk.id === focus ? 'focused' : undefined} ref={tk.id === focus ? scrollIntoView : undefined}>
                <td>
                  <PriorityBadge priority={tk.priority} />
                  {tk.escalationStep > 0 && <span class="badge escalated">{t('escalated')}</span>}
                </td>
                <td><StatusBadge status={tk.status} /></td>
                <td>
                  {tk.subject === 'device' ? (
                    <a href={`#/device/${encodeURIComponent(tk.subjectId)}`}>{tk.subjectId}</a>
                  ) : tk.subject === 'customer' ? (
                    <span data-testid="case">
                      {caseLabel(tk, lang)} {tk.id}
                      {tk.contact && <span class="muted small"> · {tk.contact.name}</span>}
                    </span>
                  ) : (
                    <span data-testid="incident">{tk.subjectId} ×{tk.devices.length}</span>
                  )}
                </td>
                <td>
                  {tk.subject === 'customer' && <span class="small">{tk.description}</span>}
                  {tk.conditions.map((c, i) => (
                    <span key={c}>
                      {i > 0 && '、'}
                      <ConditionName condition={c} lang={lang} />
                    </span>
                  ))}
                </td>
                <td class="wide-only">{tk.district ?? '—'}</td>
                <td class="wide-only">{tk.address ?? '—'}</td>
                <td>{tk.assignee ?? '—'}</td>
                <td>{formatTime(tk.slaDueAt, lang)}</td>
                <td>
                  <StaffActions api={api} ticket={tk} onDone={reload} />
                  <TicketDeliveries api={api} ticketId={tk.id} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
