import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DeviceRecords } from '../contracts/device-record.ts';
import type { Alert, AlertBook } from '../alerts/alert-book.ts';
import { ticketAlerts } from '../alerts/ticket-door.ts';
import { SqlOnCallDirectory } from '../alerts/oncall/oncall-directory.ts';
import { loadOnCallConfig, seedOnCall } from '../alerts/oncall/seed.ts';
import { SqlAuditLog } from '../alerts/audit/audit-log.ts';
import { type ActionApplier, ActionTokens, loadActionSecret, sqlTicketOfAlert, ticketActionApplier } from '../alerts/push/actions.ts';
import { closeChannels, createChannels, parsePushConfig, pushCallbacksOf, sseHubOf } from '../alerts/push/channels.ts';
import type { ReportOutcome } from '../alerts/push/channel.ts';
import { type WebPushChannel, webPushOf } from '../alerts/push/web-push/index.ts';
import { PushDispatcher } from '../alerts/push/delivery-queue.ts';
import type { SseHub } from '../alerts/push/sse/hub.ts';
import { parseSlaSettings, type SlaSettings } from '../alerts/sla/sla-policy.ts';
import { SlaWatch } from '../alerts/sla/sla-watch.ts';
import { CustomerClockWatch, parseCustomerClockSettings } from '../alerts/sla/customer-clocks.ts';
import { AlarmJournal } from '../alerts/safety/alarm-journal.ts';
import { SafetyLane } from '../alerts/safety/safety-lane.ts';
import { timerScheduler } from '../alerts/push/scheduler.ts';
import { StormFolder } from '../alerts/tickets/storm-folder.ts';
import type { Db } from '../alerts/store/db.ts';
import type { StoreDeadLetterSink } from '../alerts/store/dead-letters.ts';
import { openDb } from '../alerts/store/open-db.ts';
import type { Notice } from '../alerts/tickets/notice.ts';
import { parseReportSettings, TicketReports } from '../alerts/tickets/reports.ts';
import { TicketService, type DeviceInfo } from '../alerts/tickets/ticket-service.ts';
import type { Crs } from '../registry/coordinates.ts';
import { wgs84PointOf } from '../registry/map-settings.ts';
import { parseTicketSettings } from '../alerts/tickets/options.ts';
import type { Clock } from './clock.ts';

/** The sample rota from the service manual, used when no `ONCALL` file is given and the directory is empty. */
const EXAMPLE_ONCALL = new URL('../alerts/oncall/oncall.example.json', import.meta.url).pathname;

export interface ServiceStageOptions {
  dataDir: string;
  databaseUrl?: string;
  oncallFile?: string;
  push?: unknown;
  sla?: unknown;
  tickets?: unknown;
  /** Reply, completion and update-gap limits of 报修/投诉 tickets, see alerts/sla/customer-clocks.ts. */
  customerClocks?: unknown;
  /** Follow-up limit, recurring-fault threshold and monthly snapshot day, see alerts/tickets/reports.ts. */
  reports?: unknown;
  slaCheckIntervalMs: number;
  /** The system of the registry's lat/lon (settings `map.registryCrs`). @defaultValue 'wgs84' */
  registryCrs?: Crs;
  /** Alert changes the ticket store refused and alarm-journal lines that cannot be replayed. */
  onDeadLetter?: StoreDeadLetterSink;
}

export interface ServiceStage {
  db: Db;
  tickets: TicketService;
  reports: TicketReports;
  oncall: SqlOnCallDirectory;
  push: PushDispatcher;
  sse?: SseHub;
  /** One-tap action tokens and what they do, for POST /hooks/v1/actions. */
  actionTokens: ActionTokens;
  applyAction: ActionApplier;
  /** Push channels' provider callbacks, for /hooks/v1/push/<name>/. */
  pushCallbacks: ReturnType<typeof pushCallbacksOf>;
  /** The Web Push channel, when one is configured: its subscriptions are managed through the API. */
  webPush?: WebPushChannel;
  /** Provider delivery reports and read checks since start, per channel instance and outcome (for /metrics). */
  providerReports(): Array<{ channel: string; outcome: ReportOutcome; count: number }>;
  slaSettings(): SlaSettings;
  /** Applies new limits and keeps them in the store, over the settings file, across restarts. */
  setSlaSettings(settings: SlaSettings): Promise<void>;
  /** Runs the SLA clocks as of the clock's now; the timer calls it, tests may too. */
  checkSla(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Tickets, on-call, SLA clocks and pushes: every alert change opens or updates a ticket, which is
 * routed to the technician on call and pushed to them; a push that keeps failing escalates.
 * Nothing here blocks the alert path: tickets follow the alert book's changes, and a ticket update
 * that fails is made good by `reconcile`, retried while running and run again on every start.
 */
const RECONCILE_RETRY_MIN_MS = 500;
const RECONCILE_RETRY_MAX_MS = 30_000;
/** The embedded ticket store's folder under DATA_DIR. */
export const TICKET_STORE_DIR = 'tickets-db';

export async function startServiceStage(options: ServiceStageOptions, alerts: AlertBook, registry: DeviceRecords, clock: Clock, log: Logger): Promise<ServiceStage> {
  const ticketSettings = parseTicketSettings(options.tickets);
  let sla = parseSlaSettings(options.sla);
  const pushConfig = parsePushConfig(options.push ?? { channels: [{ name: 'sse', type: 'sse', config: {} }] });

  const db = await openDb({ databaseUrl: options.databaseUrl, dir: join(options.dataDir, TICKET_STORE_DIR) });
  const [savedSla] = await db.query<{ value: unknown }>(`SELECT value FROM app_settings WHERE key = 'sla'`);
  if (savedSla) sla = parseSlaSettings(typeof savedSla.value === 'string' ? JSON.parse(savedSla.value) : savedSla.value);
  const oncall = new SqlOnCallDirectory(db, { now: () => clock.now() });
  if (options.oncallFile) {
    await seedOnCall(db, await loadOnCallConfig(options.oncallFile));
  } else if ((await oncall.listTeams()).length === 0) {
    await seedOnCall(db, await loadOnCallConfig(EXAMPLE_ONCALL));
    log.warn({ file: EXAMPLE_ONCALL }, 'No ONCALL file: seeded the example rota from the service manual');
  }
  // The alarm path answers "who is on call" from memory: loaded before the first alert arrives.
  await oncall.load();
  const gaps = await oncall.coverageGaps(clock.now(), clock.now() + 7 * 86_400_000);
  if (gaps.length > 0) {
    const byTeam = new Map<string, { teamId: string; districts: string[]; gaps: number; first: { from: string; to: string } }>();
    for (const g of gaps) {
      const team = byTeam.get(g.teamId);
      if (team) team.gaps++;
      else byTeam.set(g.teamId, { teamId: g.teamId, districts: g.districts, gaps: 1, first: { from: g.from, to: g.to } });
    }
    log.warn({ teams: [...byTeam.values()] }, 'The rota leaves districts with no technician on duty in the next 7 days: tickets there wait for the next shift with the supervisor paged (GET /api/v1/oncall?district= lists the gaps)');
  }

  const audit = new SqlAuditLog(db);
  const actionTokens = new ActionTokens({
    db,
    clock,
    secret: loadActionSecret(join(options.dataDir, 'action-token-secret'), pushConfig.actions.secret),
    defaultTtlMs: pushConfig.actions.ttlMs,
    audit,
  });
  // Channels are made before the ticket service (it pushes through them): the applier finds it at call time.
  let ticketsForActions: TicketService | undefined;
  const applyAction: ActionApplier = {
    apply: (a) => {
      if (!ticketsForActions) throw new Error('Ticket action before the ticket service started');
      return ticketActionApplier({ tickets: ticketsForActions, people: oncall, ticketOfAlert: sqlTicketOfAlert(db), clock, audit, log }).apply(a);
    },
  };
  const reportCounts = new Map<string, number>();
  const channels = createChannels(pushConfig.channels, {
    log: log.child({ component: 'push' }), clock, dataDir: options.dataDir, onDeadLetter: options.onDeadLetter, db,
    ...(ticketSettings.appUrl ? { appUrl: ticketSettings.appUrl } : {}),
    people: oncall,
    actions: actionTokens,
    redeemAction: actionTokens,
    applyAction,
    // Provider delivery reports arrive once the API listens, after the dispatcher below exists.
    receipts: { recordReceipt: (...receipt) => push.recordReceipt(...receipt) },
    reports: (channel, outcome) => {
      const key = `${channel}\u0000${outcome}`;
      reportCounts.set(key, (reportCounts.get(key) ?? 0) + 1);
    },
  });
  const push = new PushDispatcher({ db, people: oncall, channels, log: log.child({ component: 'push' }), clock, settings: pushConfig.retry, timeZone: ticketSettings.timeZone });
  // Tickets keep WGS-84 points whatever system the registry uses (Grafana's base maps are WGS-84).
  const lookupDevice = (deviceId: string): DeviceInfo | undefined => {
    const record = registry.get(deviceId);
    if (!record) return undefined;
    const { lat: _lat, lon: _lon, ...facts } = record;
    return { ...(facts as DeviceInfo), ...wgs84PointOf({ registryCrs: options.registryCrs ?? 'wgs84' }, record) };
  };
  const journal = new AlarmJournal(join(options.dataDir, 'alarms'), clock.now(), undefined, options.onDeadLetter);
  const lane = new SafetyLane({ journal, directory: oncall, lookupDevice, push, clock, ...(ticketSettings.appUrl ? { appUrl: ticketSettings.appUrl } : {}), log: log.child({ component: 'safety-lane' }) });
  // First listener on the alert book: a leak is pushed before anything else hears of it.
  alerts.onChange((changes) => lane.onAlertChanges(changes));
  const tickets = new TicketService({
    db,
    clock,
    directory: oncall,
    lookupDevice,
    settings: ticketSettings,
    priorAlarm: (alertIds) => lane.priorPush(alertIds),
    onDeadLetter: options.onDeadLetter,
    sla,
    log: log.child({ component: 'tickets' }),
  });
  ticketsForActions = tickets;
  const watch = new SlaWatch({ db, directory: oncall, settings: sla, appUrl: ticketSettings.appUrl, timeZone: ticketSettings.timeZone, log: log.child({ component: 'sla' }) });
  // The customer's own clocks on tickets opened by people, checked with the SLA clocks.
  const customerWatch = new CustomerClockWatch({ db, directory: oncall, settings: parseCustomerClockSettings(options.customerClocks), sla: () => sla, appUrl: ticketSettings.appUrl, timeZone: ticketSettings.timeZone, log: log.child({ component: 'customer-clocks' }) });

  // Notices made now are sent before their delivery is recorded; notices fed again after a
  // restart are claimed first, so none is sent twice.
  const sendFresh = (notice: Notice): void => {
    push.dispatchFresh(notice).catch((err: unknown) => log.error({ err, noticeId: notice.id }, 'Push dispatch failed'));
  };
  const send = (notice: Notice): void => {
    push.dispatch(notice).catch((err: unknown) => log.error({ err, noticeId: notice.id }, 'Push dispatch failed'));
  };
  tickets.onNotice(sendFresh);
  watch.onNotice(sendFresh);
  customerWatch.onNotice(sendFresh);
  push.onOutcome((outcome) => {
    if (outcome.status === 'failed') watch.onDeliveryOutcome(outcome).catch((err: unknown) => log.error({ err }, 'Escalating a failed push failed'));
  });

  // Ticket updates run one batch after another, in the order the alert book changed (the ticket
  // service chains them), behind the storm folder. When the store fails (PostgreSQL restarting),
  // the alert book still has everything: a reconcile of its active and recently cleared alerts is
  // retried with back-off until the store answers again.
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelayMs = RECONCILE_RETRY_MIN_MS;
  let stopped = false;
  const reconcileLater = (): void => {
    if (retryTimer || stopped) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      tickets.reconcile(ticketAlerts(alerts.active()), ticketAlerts(alerts.query({ state: 'cleared', limit: 1000 })), openMissing).then(
        (done) => {
          retryDelayMs = RECONCILE_RETRY_MIN_MS;
          log.info(done, 'Ticket store answers again: tickets reconciled with the alert book');
        },
        (err: unknown) => {
          retryDelayMs = Math.min(retryDelayMs * 2, RECONCILE_RETRY_MAX_MS);
          log.warn({ err, retryInMs: retryDelayMs }, 'Ticket store still failing; reconcile retried');
          reconcileLater();
        },
      );
    }, retryDelayMs);
    retryTimer.unref();
  };
  const failed = (err: unknown): void => {
    log.error({ err }, 'Ticket update failed; reconciling once the ticket store answers');
    reconcileLater();
  };
  const folder = new StormFolder({
    groupWaitMs: ticketSettings.stormGroupWaitMs,
    threshold: ticketSettings.stormFoldThreshold,
    districtOf: (deviceId) => lookupDevice(deviceId)?.district,
  }, timerScheduler, (out) => {
    if (out.type === 'changes') tickets.onAlertChanges(out.changes).catch(failed);
    else {
      log.warn({ [out.scope.subject]: out.scope.id, condition: out.condition, devices: out.alerts.length }, 'Alert storm folded into one incident ticket');
      tickets.openIncident(out.scope, out.condition, out.alerts).catch(failed);
      if (out.after.length > 0) tickets.onAlertChanges(out.after).catch(failed);
    }
  });
  // Alerts without a ticket go through the folder, so a storm cut short by a crash is still one incident.
  const openMissing = async (missing: Alert[]): Promise<void> => folder.offer(missing.map((alert) => ({ type: 'raised' as const, alert })));

  // Catch up on what a crash may have cut short: alerts without tickets, notices not yet pushed, retries pending.
  await tickets.reconcile(ticketAlerts(alerts.active()), ticketAlerts(alerts.query({ state: 'cleared', limit: 1000 })), openMissing);
  lane.resume(3_600_000, send);
  for (const notice of await tickets.noticesSince(clock.now() - 86_400_000)) send(notice);
  await push.resume();

  alerts.onChange((changes) => folder.offer(changes));

  let checking = false;
  const checkSla = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      // A shift that just began takes the tickets nobody was on call for, before they escalate further.
      const dispatched = await tickets.dispatchWaiting();
      if (dispatched.length > 0) log.info({ tickets: dispatched }, 'Tickets opened while nobody was on call dispatched to the technician on call now');
      await watch.check(clock.now());
      await customerWatch.check(clock.now());
    } catch (err) {
      log.error({ err }, 'SLA check failed');
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void checkSla(), options.slaCheckIntervalMs);
  timer.unref();

  return {
    db,
    tickets,
    reports: new TicketReports(db, ticketSettings.timeZone, parseReportSettings(options.reports)),
    oncall,
    push,
    sse: sseHubOf(channels),
    actionTokens,
    applyAction,
    pushCallbacks: pushCallbacksOf(channels),
    webPush: webPushOf(channels),
    providerReports: () =>
      [...reportCounts].map(([key, count]) => {
        const [channel, outcome] = key.split('\u0000') as [string, ReportOutcome];
        return { channel, outcome, count };
      }),
    slaSettings: () => sla,
    async setSlaSettings(settings) {
      await db.query(
        `INSERT INTO app_settings (key, value, updated_at) VALUES ('sla', $1::jsonb, now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [JSON.stringify(settings)],
      );
      sla = settings;
      tickets.updateSla(settings);
      watch.updateSettings(settings);
    },
    checkSla,
    async stop() {
      clearInterval(timer);
      stopped = true;
      clearTimeout(retryTimer);
      folder.flush();
      await tickets.settled();
      await push.close();
      await closeChannels(channels);
      await db.close();
    },
  };
}
