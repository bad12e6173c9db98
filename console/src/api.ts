/**
 * The one client of the pipeline's HTTP API (`/api/v1`, same origin). Types mirror the route
 * schemas in alerts/api/routes/*.ts; every call sends the bearer token and turns a refusal into
 * an ApiError carrying the API's error code.
 */

export type Role = 'admin' | 'supervisor' | 'operator' | 'technician';
export type Lang = 'zh-CN' | 'en';
export type Text = Record<Lang, string>;

export interface Me {
  name: string;
  role: Role;
  personId: string | null;
}

export interface Alert {
  id: string;
  deviceId: string;
  gatewayId: string;
  subject: 'device' | 'gateway';
  kind?: string;
  condition: string;
  severity: string;
  state: 'active' | 'cleared';
  raisedAt: string;
  clearedAt: string | null;
  /** The manual's cause, zh-CN / English in one string. */
  cause: string;
  remedy: string;
  toolCard: Text;
  parts: Text[];
  detail?: Record<string, unknown>;
  unregistered?: boolean;
  /** A historical alert, found in a late reading. */
  late?: true;
  delayMs?: number;
  /** The operator who acknowledged it first, and when. */
  seen?: { by: string; at: string };
  district?: string;
  address?: string;
  customer?: string;
  /** Where the device is, in the map's system (ConsoleSettings map.crs); absent when the registry has no point. */
  lat?: number;
  lon?: number;
}

/** GET /console/settings: the server's map settings. */
export interface ConsoleSettings {
  map: {
    crs: 'wgs84' | 'gcj02';
    /** null: no tile server; the console draws its plain map. */
    tiles: { urlTemplate: string; subdomains: string; attribution: string; maxZoom: number } | null;
    center: { lat: number; lon: number } | null;
    zoom: number;
  };
}

export const TICKET_STATUSES = ['opened', 'dispatched', 'acknowledged', 'on_site', 'resolved', 'followed_up', 'closed', 'cancelled'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];
export const OPEN_STATUSES: readonly TicketStatus[] = ['opened', 'dispatched', 'acknowledged', 'on_site'];
export const PRIORITIES = ['emergency', 'urgent', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

export interface ManualEntry {
  condition: string;
  title: Text;
  cause: Text;
  remedy: Text;
  toolCard: Text;
  parts: Text[];
  source: string;
}

export interface Ticket {
  id: string;
  /** district: a storm folded into one incident listing its devices; customer: a person's 报修 or 投诉. */
  subject: 'device' | 'gateway' | 'district' | 'customer';
  origin: 'alert' | 'report' | 'complaint';
  /** Who reported or complained; null on alert tickets. */
  contact: { name: string; phone: string } | null;
  /** What the person said. */
  description: string | null;
  complaintClass: 'justified' | 'communication' | null;
  complaintKind: 'help' | 'enquiry' | 'venting' | null;
  subjectId: string;
  deviceId: string | null;
  gatewayId: string | null;
  kind: string | null;
  district: string | null;
  address: string | null;
  customer: string | null;
  /** WGS-84 (the ticket store's, for Grafana); the map places tickets by their alarms instead. */
  lat: number | null;
  lon: number | null;
  conditions: string[];
  activeConditions: string[];
  devices: string[];
  priority: Priority;
  status: TicketStatus;
  openedAt: string;
  acknowledgedAt: string | null;
  onSiteAt: string | null;
  resolvedAt: string | null;
  assignee: string | null;
  slaDueAt: string | null;
  followUpDueAt: string | null;
  manual: ManualEntry[];
  escalationStep: number;
  escalatedAt: string | null;
  updatedAt: string;
}

export interface TicketDetail extends Ticket {
  history: Array<{ id: string; at: string; actor: string; action: string; fromStatus: string | null; toStatus: string | null }>;
  comments: Array<{ id: string; at: string; author: string; body: string }>;
  escalations: Array<{ id: string; step: number; level: string; target: string | null; at: string; reason: string }>;
  deliveries: TicketDelivery[];
}

/** sent: the channel accepted it; delivered: the provider said it reached the device. */
export type TicketDeliveryStatus = 'pending' | 'sent' | 'delivered' | 'failed' | 'not_delivered';

/** One push of a ticket to one person on one channel (GET /tickets/:id). */
export interface TicketDelivery {
  noticeId: string;
  kind: string;
  recipientId: string;
  channel: string;
  status: TicketDeliveryStatus;
  attempts: number;
  lastError: string | null;
  queuedAt: string;
  sentAt: string | null;
  deliveredAt: string | null;
  readAt: string | null;
  nextAttemptAt: string | null;
  waitsFor: string | null;
  acknowledgedVia: string | null;
}

export interface Person {
  id: string;
  name: string;
  role: 'technician' | 'supervisor' | 'director';
  phone?: string;
  email?: string;
}

export interface OnCall {
  district: string;
  teamId: string;
  at: string;
  technician: Person | null;
  shift: { name: string; kind: 'on_site' | 'home'; startsAt: string; endsAt: string } | null;
  supervisor: Person | null;
  director: Person | null;
}

export interface Team {
  id: string;
  name: string;
  /** '*' marks the fallback team. */
  districts: string[];
  supervisorId?: string;
  directorId?: string;
}

export interface Device {
  deviceId: string;
  kind: string;
  registered: boolean;
  record: Record<string, unknown> | null;
  lastReading: Record<string, unknown> | null;
  lastSeenAt: string | null;
  activeConditions: string[];
}

/** One point of `GET /devices/:id/readings`: a reading, or several merged; the kind's numbers and status tokens. */
export interface ReadingPointView {
  at: string;
  status?: string[];
  [field: string]: number | string | string[] | undefined;
}

export interface DeviceReadings {
  deviceId: string;
  kind: string;
  source: 'local' | 'influxdb';
  from: string;
  to: string;
  /** null: every stored point; else each point merges a bucket this wide. */
  bucketMs: number | null;
  points: ReadingPointView[];
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'not_delivered'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface CustomerNoticeDelivery {
  /** `none`: no customer channel reached it. */
  channel: string;
  status: DeliveryStatus;
  reason: string | null;
  attempts: number;
  lastAttemptAt: string | null;
  nextAttemptAt: string | null;
}

/** A LOW_BALANCE / NO_BALANCE notice to a customer and whether it reached them. */
export interface CustomerNotice {
  id: string;
  alertId: string;
  deviceId: string;
  customer: string | null;
  district: string | null;
  condition: string;
  title: Text | null;
  body: Text | null;
  createdAt: string;
  resolvedAt: string | null;
  /** Where it stands; channel null before its first send. */
  delivery: Omit<CustomerNoticeDelivery, 'channel'> & { channel: string | null };
  deliveries: CustomerNoticeDelivery[];
}

/** The ticket counts of a period (alerts/tickets/reports.ts ActionCounts). */
export interface ReportCounts {
  opened: number;
  dispatched: number;
  acknowledged: number;
  onSite: number;
  resolved: number;
  followedUp: number;
  closed: number;
  cancelled: number;
  reopened: number;
  breaches: number;
}

/** 值班日报: a local day's counts, per priority, and SLA breaches per clock. */
export interface DailyReport {
  date: string;
  timeZone: string;
  from: string;
  to: string;
  counts: ReportCounts & { openAtEndOfDay: number };
  byPriority: Record<Priority, ReportCounts & { openAtEndOfDay: number }>;
  breachesByClock: Record<string, number>;
}

/** 回访 coverage of the jobs resolved in a period. */
export interface FollowUpCoverage {
  resolved: number;
  followedUp: number;
  followedUpWithinLimit: number;
  coveragePct: number | null;
  withinLimitPct: number | null;
  followUpWithinHours: number;
  notFollowedUp: Array<{ ticketId: string; resolvedAt: string; dueAt: string; overdue: boolean; priority: Priority; assignee: string | null; subjectId: string; address: string | null }>;
}

export interface WeeklyReport {
  weekStart: string;
  timeZone: string;
  from: string;
  to: string;
  taken: number;
  dispatched: number;
  resolved: number;
  followedUp: number;
  reopened: number;
  breaches: number;
  followUp: FollowUpCoverage;
}

export interface RepairRate {
  kind: string | null;
  kindName: Text | null;
  tickets: number;
  devices: number;
  per1000Devices: number | null;
}

/** The monthly service-quality report with its 故障现象统计分类. */
export interface MonthlyReport {
  month: string;
  timeZone: string;
  from: string;
  to: string;
  complete: boolean;
  generatedAt: string;
  snapshot: boolean;
  counts: ReportCounts;
  followUp: FollowUpCoverage;
  repairRates: {
    devices: number;
    byKind: RepairRate[];
    byCondition: Array<RepairRate & { condition: string; name: Text }>;
    complaints: { tickets: number; per1000Devices: number | null; byClass: Array<{ class: string | null; tickets: number }> };
  };
  recurringFaults: {
    minCount: number;
    items: Array<{ deviceId: string; condition: string; name: Text; alerts: number; tickets: number; repeatTickets: number; lastAt: string; address: string | null; district: string | null }>;
  };
  byConditionAndDistrict: Array<{ condition: string; name: Text; district: string; alerts: number; tickets: number }>;
  byCondition: Array<{ condition: string; name: Text; alerts: number; tickets: number }>;
  repeatFaults: number;
}

/** What GET /tickets filters on the server (alerts/api/routes/tickets.ts ListQuery). */
export interface TicketQuery {
  /** @defaultValue OPEN_STATUSES; an empty list asks for every status. */
  status?: readonly TicketStatus[];
  priority?: Priority;
  district?: string;
  assignee?: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API's lifecycle actions and the body each one takes. */
export interface TicketActionBodies {
  dispatch: { assignee: string };
  acknowledge: Record<string, never>;
  'on-site': Record<string, never>;
  resolve: { remedyDone: string; notes?: string };
  'follow-up': { satisfied: boolean; notes?: string };
  cancel: { reason: string };
  reopen: { reason: string };
}
export type TicketAction = keyof TicketActionBodies;

export class ApiClient {
  constructor(private readonly token: string, private readonly base = '/api/v1') {}

  async #call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json().catch(() => ({}))) as { error?: string; message?: string };
    if (!res.ok) throw new ApiError(res.status, json.error ?? `HTTP_${res.status}`, json.message ?? res.statusText);
    return json as T;
  }

  me(): Promise<Me> {
    return this.#call('GET', '/me');
  }

  consoleSettings(): Promise<ConsoleSettings> {
    return this.#call('GET', '/console/settings');
  }

  /** The server's VAPID key for pushManager.subscribe; 404 when no web-push channel is configured. */
  async vapidPublicKey(): Promise<string> {
    return (await this.#call<{ publicKey: string }>('GET', '/push/vapid-public-key')).publicKey;
  }

  /** Phone notifications for the token's person: the browser's PushSubscription.toJSON(). */
  async subscribePush(subscription: PushSubscriptionJSON): Promise<void> {
    await this.#call('POST', '/push/subscriptions', { endpoint: subscription.endpoint, keys: subscription.keys });
  }

  async unsubscribePush(endpoint: string): Promise<void> {
    await this.#call('DELETE', '/push/subscriptions', { endpoint });
  }

  async activeAlerts(): Promise<Alert[]> {
    // Most severe first from the API: in a storm of thousands, the limit drops power alerts, never a leak.
    return (await this.#call<{ items: Alert[] }>('GET', '/alerts?state=active&limit=2000')).items;
  }

  /** The control room saw the alarm: its sound stops on every desk. */
  markSeen(alertId: string): Promise<Alert> {
    return this.#call('POST', `/alerts/${encodeURIComponent(alertId)}/seen`);
  }

  async alertsOf(deviceId: string): Promise<Alert[]> {
    return (await this.#call<{ items: Alert[] }>('GET', `/alerts?deviceId=${encodeURIComponent(deviceId)}&limit=50`)).items;
  }

  /** Open tickets by default; a technician's token lists only their own whatever is asked. */
  async tickets(query: TicketQuery = {}): Promise<Ticket[]> {
    const params = new URLSearchParams({ limit: '500' });
    if (query.status?.length !== 0) params.set('status', (query.status ?? OPEN_STATUSES).join(','));
    if (query.priority) params.set('priority', query.priority);
    if (query.district) params.set('district', query.district);
    if (query.assignee) params.set('assignee', query.assignee);
    return (await this.#call<{ items: Ticket[] }>('GET', `/tickets?${params}`)).items;
  }

  ticket(id: string): Promise<TicketDetail> {
    return this.#call('GET', `/tickets/${encodeURIComponent(id)}`);
  }

  act<A extends TicketAction>(id: string, action: A, body: TicketActionBodies[A]): Promise<Ticket> {
    return this.#call('POST', `/tickets/${encodeURIComponent(id)}/${action}`, body);
  }

  onCall(district?: string): Promise<OnCall> {
    return this.#call('GET', `/oncall${district ? `?district=${encodeURIComponent(district)}` : ''}`);
  }

  async teams(): Promise<Team[]> {
    return (await this.#call<{ items: Team[] }>('GET', '/oncall/teams')).items;
  }

  async people(): Promise<Person[]> {
    return (await this.#call<{ items: Person[] }>('GET', '/oncall/people')).items;
  }

  /** The reports take the period in their own time zone; without one, the current day, week or month there. */
  dailyReport(date?: string): Promise<DailyReport> {
    return this.#call('GET', `/reports/daily${date ? `?date=${date}` : ''}`);
  }

  /** `week`: any day of the week. */
  weeklyReport(week?: string): Promise<WeeklyReport> {
    return this.#call('GET', `/reports/weekly${week ? `?week=${week}` : ''}`);
  }

  /** `month`: YYYY-MM or `previous`. */
  monthlyReport(month?: string): Promise<MonthlyReport> {
    return this.#call('GET', `/reports/monthly${month ? `?month=${month}` : ''}`);
  }

  /** Newest first; staff only. */
  async customerNotices(filter: { status?: DeliveryStatus; deviceId?: string } = {}): Promise<CustomerNotice[]> {
    const query = new URLSearchParams({ limit: '500', ...filter });
    return (await this.#call<{ items: CustomerNotice[] }>('GET', `/customer-notices?${query}`)).items;
  }

  device(id: string): Promise<Device> {
    return this.#call('GET', `/devices/${encodeURIComponent(id)}`);
  }

  readings(id: string, fromMs: number, toMs: number, limit = 500): Promise<DeviceReadings> {
    const q = new URLSearchParams({ from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), limit: String(limit) });
    return this.#call('GET', `/devices/${encodeURIComponent(id)}/readings?${q}`);
  }

  /** EventSource cannot send headers, so the stream routes take the token in the query. */
  streamUrl(path: '/stream' | '/stream/alerts'): string {
    return `${this.base}${path}?access_token=${encodeURIComponent(this.token)}`;
  }
}

export interface ActionDone {
  ticketId: string;
  action: 'acknowledge' | 'on_site';
  status: TicketStatus;
}

/**
 * Redeems a one-tap action token from a phone notification or link: the token is the credential
 * (no bearer token, no log-in), good for one use by the person it was issued to.
 */
export async function redeemActionToken(token: string): Promise<ActionDone> {
  const res = await fetch('/hooks/v1/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const json = (await res.json().catch(() => ({}))) as ActionDone & { error?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, json.error ?? `HTTP_${res.status}`, json.message ?? res.statusText);
  return json;
}
