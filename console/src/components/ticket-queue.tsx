import { useEffect, useState } from 'preact/hooks';
import { PRIORITIES, type ApiClient, type Person, type Ticket } from '../api.ts';
import { caseLabel } from '../cases.ts';
import { formatTime, useI18n } from '../i18n.ts';
import { devicesMatching, isIncident, matchesSearch, STATUS_VIEWS, ticketQuery, type StatusView, type TicketFilters } from '../ticket-filters.ts';
import { PriorityBadge, StatusBadge } from './badges.tsx';
import { ConditionName } from './condition-name.tsx';
import { StaffActions } from './staff-actions.tsx';
import { TicketDeliveries } from './ticket-deliveries.tsx';

/** Brings the ticket a link pointed at into view. */
export const scrollIntoView = (el: HTMLElement | null): void => el?.scrollIntoView({ block: 'center' });

/** Districts the teams answer for and the technicians, for the filter choices; the queue works without them. */
function useChoices(api: ApiClient): { districts: string[]; people: Person[] } {
  const [choices, setChoices] = useState<{ districts: string[]; people: Person[] }>({ districts: [], people: [] });
  useEffect(() => {
    let stale = false;
    Promise.all([api.teams(), api.people()]).then(
      ([teams, people]) => {
        if (stale) return;
        const districts = [...new Set(teams.flatMap((team) => team.districts).filter((d) => d !== '*'))].sort();
        setChoices({ districts, people: people.filter((p) => p.role === 'technician') });
      },
      // Without them the choices come from the tickets loaded.
      () => undefined,
    );
    return () => {
      stale = true;
    };
  }, [api]);
  return choices;
}

function FilterBar({ filters, onFilters, tickets, shown, districts, names }: { filters: TicketFilters; onFilters: (f: TicketFilters) => void; tickets: Ticket[]; shown: number; districts: string[]; names: ReadonlyMap<string, string> }) {
  const { t } = useI18n();
  const set = (key: keyof TicketFilters, value: string) => onFilters({ ...filters, [key]: value || undefined });
  const withCurrent = (values: string[], current: string | undefined) => [...new Set([...values, ...(current ? [current] : [])])].sort();
  const districtChoices = withCurrent([...districts, ...tickets.flatMap((tk) => (tk.district ? [tk.district] : []))], filters.district);
  const assigneeChoices = withCurrent([...names.keys(), ...tickets.flatMap((tk) => (tk.assignee ? [tk.assignee] : []))], filters.assignee);
  const statusLabel = (v: StatusView) => (v === 'open' || v === 'done' || v === 'all' ? t(`filter.status.${v}`) : t(`status.${v}`));
  const any = Object.values(filters).some(Boolean);
  return (
    <div class="filters" data-testid="ticket-filters">
      <select data-testid="filter-status" value={filters.status ?? 'open'} onChange={(e) => set('status', (e.target as HTMLSelectElement).value)}>
        {STATUS_VIEWS.map((v) => (
          <option key={v} value={v}>{statusLabel(v)}</option>
        ))}
      </select>
      <select data-testid="filter-priority" value={filters.priority ?? ''} onChange={(e) => set('priority', (e.target as HTMLSelectElement).value)}>
        <option value="">{t('filter.priority')}</option>
        {PRIORITIES.map((p) => (
          <option key={p} value={p}>{t(`priority.${p}`)}</option>
        ))}
      </select>
      <select data-testid="filter-district" value={filters.district ?? ''} onChange={(e) => set('district', (e.target as HTMLSelectElement).value)}>
        <option value="">{t('filter.district')}</option>
        {districtChoices.map((d) => (
          <option key={d} value={d}>{d}</option>
        ))}
      </select>
      <select data-testid="filter-assignee" value={filters.assignee ?? ''} onChange={(e) => set('assignee', (e.target as HTMLSelectElement).value)}>
        <option value="">{t('filter.assignee')}</option>
        {assigneeChoices.map((id) => (
          <option key={id} value={id}>{names.has(id) ? `${names.get(id)} (${id})` : id}</option>
        ))}
      </select>
      <input type="search" data-testid="filter-q" placeholder={t('filter.ticketSearch')} title={t('filter.serverSide')} value={filters.q ?? ''} onInput={(e) => set('q', (e.target as HTMLInputElement).value)} />
      {any && <button type="button" class="link" onClick={() => onFilters({})}>{t('filter.clear')}</button>}
      <span class="muted" data-testid="tickets-shown">{t('filter.shown')} {shown} / {tickets.length}</span>
    </div>
  );
}

/** An incident (a storm on a district or gateway): one row, its device count, the devices listed when opened; those the search names open it and stand out. */
function IncidentSubject({ ticket, q }: { ticket: Ticket; q: string | undefined }) {
  const { t } = useI18n();
  const matched = new Set(devicesMatching(ticket, q));
  return (
    <details data-testid="incident" data-count={ticket.devices.length} open={matched.size > 0}>
      <summary>
        <span class="muted small">{t(ticket.subject === 'district' ? 'col.district' : 'col.gateway')}</span> {ticket.subjectId}{' '}
        <span class="badge" data-testid="incident-count">× {ticket.devices.length} {t('fold.devices')}</span>
      </summary>
      <ul class="fold">
        {ticket.devices.map((d) => (
          <li key={d} class={matched.has(d) ? 'match' : undefined}>
            <a href={`#/device/${encodeURIComponent(d)}`}>{d}</a>
          </li>
        ))}
      </ul>
    </details>
  );
}

function Subject({ ticket, q }: { ticket: Ticket; q: string | undefined }) {
  const { lang } = useI18n();
  if (isIncident(ticket)) return <IncidentSubject ticket={ticket} q={q} />;
  if (ticket.subject === 'customer') {
    return (
      <span data-testid="case">
        {caseLabel(ticket, lang)} {ticket.id}
        {ticket.contact && <span class="muted small"> · {ticket.contact.name}</span>}
      </span>
    );
  }
  return <a href={`#/device/${encodeURIComponent(ticket.subjectId)}`}>{ticket.subjectId}</a>;
}

/**
 * The ticket queue for the call centre, filtered as the URL says: status, priority, district and
 * assignee by the API, the search in the browser (the API has no text search). Reloaded when
 * `reloadKey` changes (an alarm was raised or cleared, which opens or updates tickets), after an
 * action, and on demand: technicians' actions are not pushed to the control room. `focus` (from a
 * ticket link) marks that ticket's row and scrolls to it.
 */
export function TicketQueue({ api, reloadKey, focus, filters, onFilters }: { api: ApiClient; reloadKey: number; focus?: string; filters: TicketFilters; onFilters: (f: TicketFilters) => void }) {
  const { t, lang } = useI18n();
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [manualReloads, setManualReloads] = useState(0);
  const { districts, people } = useChoices(api);

  const { status, priority, district, assignee } = filters;
  useEffect(() => {
    let stale = false;
    api.tickets(ticketQuery({ status, priority, district, assignee })).then(
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
  }, [api, status, priority, district, assignee, reloadKey, manualReloads]);
  const reload = () => setManualReloads((n) => n + 1);
  const shown = tickets?.filter((tk) => matchesSearch(tk, filters.q)) ?? [];
  const names = new Map(people.map((p) => [p.id, p.name]));

  return (
    <section>
      <div class="toolbar">
        <FilterBar filters={filters} onFilters={onFilters} tickets={tickets ?? []} shown={shown.length} districts={districts} names={names} />
        <button type="button" onClick={reload}>{t('refresh')}</button>
      </div>
      {error && <p class="error">{t('failed')}: {error}</p>}
      {tickets === null && <p class="muted">{t('loading')}</p>}
      {tickets && shown.length === 0 && <p class="muted card" data-testid="tickets-empty">{t('ticketsEmpty')}</p>}
      {shown.length > 0 && (
        <table class="grid" data-testid="tickets">
          <thead>
            <tr>
              <th>{t('col.priority')}</th>
              <th>{t('col.status')}</th>
              <th>{t('col.device')}</th>
              <th>{t('col.condition')}</th>
              <th>{t('col.where')}</th>
              <th>{t('col.assignee')}</th>
              <th>{t('col.slaDue')}</th>
              <th>{t('col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((tk) => (
              <tr
                key={tk.id}
                data-testid="ticket"
                data-ticket={tk.id}
                data-incident={isIncident(tk) ? tk.devices.length : undefined}
                class={tk.id === focus ? 'focused' : undefined}
                ref={tk.id === focus ? scrollIntoView : undefined}
              >
                <td>
                  <PriorityBadge priority={tk.priority} />
                  {tk.escalationStep > 0 && <span class="badge escalated">{t('escalated')}</span>}
                </td>
                <td><StatusBadge status={tk.status} /></td>
                <td><Subject ticket={tk} q={filters.q} /></td>
                <td>
                  {tk.subject === 'customer' && <span class="small">{tk.description}</span>}
                  {tk.conditions.map((c, i) => (
                    <span key={c}>
                      {i > 0 && '、'}
                      <ConditionName condition={c} lang={lang} />
                    </span>
                  ))}
                </td>
                <td data-testid="ticket-address">
                  {tk.address ?? '—'}
                  {tk.customer && <span class="muted"> · {tk.customer}</span>}
                  {tk.district && <div class="muted small">{tk.district}</div>}
                </td>
                <td data-testid="ticket-assignee">
                  {tk.assignee ? (names.get(tk.assignee) ?? tk.assignee) : '—'}
                  {tk.assignee && names.has(tk.assignee) && <div class="muted small">{tk.assignee}</div>}
                </td>
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
