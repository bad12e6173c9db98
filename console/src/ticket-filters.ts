import { OPEN_STATUSES, PRIORITIES, TICKET_STATUSES, type Priority, type Ticket, type TicketQuery, type TicketStatus } from './api.ts';

export const DONE_STATUSES: readonly TicketStatus[] = ['resolved', 'followed_up', 'closed', 'cancelled'];

/** Which tickets by status: the open ones (the default), those to follow up or done, all, or one status. */
export type StatusView = 'open' | 'done' | 'all' | TicketStatus;
export const STATUS_VIEWS: readonly StatusView[] = ['open', 'done', 'all', ...TICKET_STATUSES];

/** What the operator narrowed the ticket queue to; kept in the URL (`#/tickets?district=…&q=…`) like the alarm filters. */
export interface TicketFilters {
  /** Absent: the open tickets. */
  status?: StatusView;
  priority?: Priority;
  district?: string;
  /** A person id. */
  assignee?: string;
  /** Free text: ticket id, device (an incident's too), address, customer or caller. */
  q?: string;
}

const KEYS = ['status', 'priority', 'district', 'assignee', 'q'] as const;

/** The filters in the hash's query; an unknown status or priority (an old or mistyped link) is dropped, not sent to the API to be refused. */
export function ticketFiltersFromHash(hash: string): TicketFilters {
  const query = hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '';
  const params = new URLSearchParams(query);
  const value = (k: (typeof KEYS)[number]) => params.get(k)?.trim() || undefined;
  const out: TicketFilters = {};
  const status = value('status');
  if (status && status !== 'open' && (STATUS_VIEWS as readonly string[]).includes(status)) out.status = status as StatusView;
  const priority = value('priority');
  if (priority && (PRIORITIES as readonly string[]).includes(priority)) out.priority = priority as Priority;
  for (const k of ['district', 'assignee', 'q'] as const) {
    const v = value(k);
    if (v) out[k] = v;
  }
  return out;
}

export function hashWithTicketFilters(filters: TicketFilters): string {
  const params = new URLSearchParams();
  for (const k of KEYS) {
    const v = filters[k];
    if (v && !(k === 'status' && v === 'open')) params.set(k, v);
  }
  const query = params.toString();
  return query ? `#/tickets?${query}` : '#/tickets';
}

export function statusesOf(view: StatusView = 'open'): readonly TicketStatus[] {
  if (view === 'open') return OPEN_STATUSES;
  if (view === 'done') return DONE_STATUSES;
  if (view === 'all') return [];
  return [view];
}

/**
 * The part the API filters (GET /tickets takes status, priority, district and assignee), so a
 * filter reaches past the 500 newest. The search stays in the browser: the API has no text search.
 */
export function ticketQuery(f: TicketFilters): TicketQuery {
  return {
    status: statusesOf(f.status),
    ...(f.priority ? { priority: f.priority } : {}),
    ...(f.district ? { district: f.district } : {}),
    ...(f.assignee ? { assignee: f.assignee } : {}),
  };
}

/** A storm folded into one ticket on a district or gateway, listing its devices. */
export const isIncident = (t: Pick<Ticket, 'subject'>): boolean => t.subject === 'district' || t.subject === 'gateway';

type Searchable = Pick<Ticket, 'id' | 'subjectId' | 'deviceId' | 'gatewayId' | 'devices' | 'address' | 'customer' | 'contact'>;

/** The incident's devices the search names, to open its fold on them. */
export function devicesMatching(t: Pick<Ticket, 'devices'>, q: string | undefined): string[] {
  if (!q) return [];
  const needle = q.toLowerCase();
  return t.devices.filter((d) => d.toLowerCase().includes(needle));
}

export function matchesSearch(t: Searchable, q: string | undefined): boolean {
  if (!q) return true;
  const needle = q.toLowerCase();
  const fields = [t.id, t.subjectId, t.deviceId, t.gatewayId, t.address, t.customer, t.contact?.name, t.contact?.phone];
  return fields.some((v) => v != null && v.toLowerCase().includes(needle)) || devicesMatching(t, q).length > 0;
}
