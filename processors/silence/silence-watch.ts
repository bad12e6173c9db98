import { Type, type Static } from '@sinclair/typebox';
import type { AlertEvent, DeviceKind, GatewayStatus, Reading } from '../../contracts/messages.ts';
import { DEFAULT_SEVERITY } from '../severity.ts';
import { CONDITION_BIT, type DeviceEngine, type DeviceSetListener, type DeviceState } from '../device-engine.ts';
import type { ReportSchedule } from '../models/index.ts';
import { scheduledDeadline } from './schedule.ts';

export const SilenceSettingsSchema = Type.Object({
  missedReports: Type.Number({ default: 3, minimum: 1, description: 'a device is silent once this many of its expected reports are missing' }),
  gatewayMissedReports: Type.Number({ default: 3, minimum: 1, description: 'a gateway is silent once this many of its most frequent device reports are missing' }),
  gatewayMinSilenceMs: Type.Integer({ default: 60_000, minimum: 1_000, description: 'never call a gateway silent sooner than this, ms' }),
  defaultGatewayIntervalMs: Type.Integer({ default: 3_600_000, minimum: 1_000, description: 'expected batch interval of a gateway none of whose devices has reported yet, ms' }),
  lastWillGraceMs: Type.Integer({
    default: 60_000,
    minimum: 0,
    description: 'a gateway whose last will fired is called offline only if it is not back within this long, ms: a cellular blip or a broker restart pages nobody (0: at once)',
  }),
  missedSlots: Type.Integer({
    default: 1,
    minimum: 1,
    description: 'a device on a report schedule (reportAt + reportWindowMin, e.g. daily NB-IoT meters) is silent once this many slots have passed, each with its whole window, without a report',
  }),
  slotGraceMs: Type.Integer({ default: 300_000, minimum: 0, description: "allowed after a slot's window closes for the uplink to arrive (NB-IoT platform, broker), ms" }),
  checkIntervalMs: Type.Integer({ default: 5_000, minimum: 100, description: 'how often silence is checked, ms' }),
  maxDevicesInDetail: Type.Integer({ default: 1_000, minimum: 0, description: 'device ids listed on a GATEWAY_OFFLINE alert (the count is always given)' }),
  maxDevicesPerTurn: Type.Integer({
    default: 100,
    minimum: 1,
    description: 'devices one turn of a silence check judges; a storm goes on in the next turn (setImmediate), so readings and leak pushes are never held up for long',
  }),
});
export type SilenceSettings = Static<typeof SilenceSettingsSchema>;


type OfflineReason = 'last_will' | 'silent';

/** Gas alarms behind a gateway are blind while it is down: GATEWAY_OFFLINE says how many (`gasAlarms`), the ticket's priority follows. */
const GAS_ALARM_KINDS: ReadonlySet<DeviceKind> = new Set(['home_gas_alarm', 'alarm_controller']);

/** A meter that connects on its own uses its device id as gateway id (wire-format.md): nothing to wait for. */
function isOwnLink(g: GatewayState, state: DeviceState): boolean {
  return state.deviceId === g.gatewayId && state.profile.schedule !== undefined;
}

/** `DeviceState.silenceBucket` of a device whose NO_SIGNAL waits for its gateway's verdict. */
const DEFERRED = Number.POSITIVE_INFINITY;

/** The devices behind one gateway, kept as devices come, go and change: no judgement needs a pass over the fleet. */
interface GatewayFleet {
  devices: Set<DeviceState>;
  /** Shortest report interval among them, ms (Infinity: none); NaN while it must be recomputed (a device left or changed). */
  minIntervalMs: number;
  /** Devices overdue while the whole gateway is quiet: their NO_SIGNAL waits for the gateway's verdict. */
  deferred: DeviceState[];
  /**
   * The distinct report schedules of its devices when every one of them has one (the gateway's own
   * silence then follows them, not a fixed interval); empty otherwise; null while it must be recomputed.
   */
  schedules: Array<{ schedule: ReportSchedule; intervalMs: number }> | null;
  /** The gateway's scheduled deadline as last computed, and the time it was computed from (a check need not redo the time-zone arithmetic). */
  scheduledDueMs: number;
  scheduledFromMs: number;
}

interface GatewayState {
  gatewayId: string;
  /** Pipeline time of its newest batch, or of when the pipeline started expecting it. */
  lastBatchAtMs: number;
  /** Pipeline time it last came (back) online; devices' silence is measured from no earlier. */
  onlineSinceMs: number;
  /** Its last will fired (retained `{"online": false}`) and no batch or online flag since. */
  willFired: boolean;
  /** Pipeline time the last will arrived. */
  willAtMs: number;
  offline: boolean;
  /**
   * Taken over from another processor instance, whose GATEWAY_OFFLINE this one cannot know:
   * its first batch sends a clear (a no-op in the alert store when nothing is active).
   */
  adopted: boolean;
  fleet: GatewayFleet;
}

export interface GatewaySnapshot {
  gatewayId: string;
  lastBatchAtMs: number;
  onlineSinceMs: number;
  willFired: boolean;
  willAtMs?: number;
  offline: boolean;
}

/**
 * A timing wheel of devices by deadline: buckets of `bucketMs` keyed by `floor(deadline / bucketMs)`,
 * the keys in use in a small min-heap. Pushing and taking an entry are O(1) (a key heap operation
 * only when a bucket is opened or emptied); emptied bucket arrays are reused.
 */
class DeadlineWheel {
  readonly #buckets = new Map<number, DeviceState[]>();
  /** Min-heap of the keys of the buckets in `#buckets`. */
  readonly #keys: number[] = [];
  readonly #spare: DeviceState[][] = [];

  constructor(readonly bucketMs: number) {}

  keyOf(atMs: number): number {
    return Math.floor(atMs / this.bucketMs);
  }

  push(key: number, state: DeviceState): void {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = this.#spare.pop() ?? [];
      this.#buckets.set(key, bucket);
      this.#pushKey(key);
    }
    bucket.push(state);
  }

  /** The earliest bucket's key (Infinity when empty). */
  firstKey(): number {
    return this.#keys.length > 0 ? this.#keys[0]! : Number.POSITIVE_INFINITY;
  }

  /** The earliest bucket; only when there is one. */
  first(): DeviceState[] {
    return this.#buckets.get(this.#keys[0]!)!;
  }

  /** Closes the earliest bucket (emptied by the caller). */
  dropFirst(): void {
    const key = this.#popKey();
    const bucket = this.#buckets.get(key)!;
    this.#buckets.delete(key);
    bucket.length = 0;
    if (this.#spare.length < 4096) this.#spare.push(bucket);
  }

  clear(): void {
    this.#buckets.clear();
    this.#keys.length = 0;
  }

  #pushKey(key: number): void {
    const keys = this.#keys;
    let i = keys.length;
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!(key < keys[parent]!)) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  #popKey(): number {
    const keys = this.#keys;
    const top = keys[0]!;
    const last = keys.pop()!;
    const n = keys.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && keys[child + 1]! < keys[child]!) child++;
      if (!(keys[child]! < last)) break;
      keys[i] = keys[child]!;
      i = child;
    }
    keys[i] = last;
    return top;
  }
}

/**
 * NoSignalWatch and GatewayOfflineWatch in one: silence is absence of data, so it is judged on the
 * pipeline's (injected) clock, not on readings. A gateway whose last will fired or that went silent
 * gets one GATEWAY_OFFLINE alert listing its devices, and its devices get no NO_SIGNAL of their own
 * while it is down: one alert instead of a storm.
 *
 * Incremental: each device waits in a deadline queue under the time it would become silent. A
 * reading costs nothing here; a check takes only the devices whose queued deadline passed, and one
 * that reported since is queued again under its new deadline (so a regularly reporting device is
 * looked at about once per silence window, never per check). Devices per gateway and each gateway's
 * shortest report interval are kept as devices come, go and change (the engine tells of that).
 *
 * The fold: a device found overdue while its gateway delivered nothing since the device's last
 * expected report (no batch in the last report interval before the device's deadline) cannot be
 * told from a dead gateway, so its NO_SIGNAL waits for the gateway's verdict. If the gateway is
 * judged offline, the device is listed on GATEWAY_OFFLINE and gets no NO_SIGNAL; if a batch comes
 * (the gateway is alive), the device gets NO_SIGNAL at the next check. A silent device behind a
 * gateway whose other devices report on gets NO_SIGNAL exactly when it used to. A gateway with a
 * single device (or whose other devices all report far less often) therefore reports that device's
 * silence as GATEWAY_OFFLINE listing it, at the gateway's own silence time: nothing tells a dead
 * gateway from a dead device there, and one alert for the site is what a technician needs.
 */
export class SilenceWatch {
  readonly gateways = new Map<string, GatewayState>();
  readonly #fleets = new Map<string, GatewayFleet>();
  readonly #due: DeadlineWheel;
  /** Devices judged by checks so far (their queued deadline passed), for tests and benchmarks. */
  devicesJudged = 0;

  constructor(
    private readonly engine: DeviceEngine,
    private readonly settings: SilenceSettings,
  ) {
    // Buckets of a second, or of one check interval when checks come more often, so a device is
    // raised at the first check after its deadline, as a pass over all devices would.
    this.#due = new DeadlineWheel(Math.min(1_000, settings.checkIntervalMs));
    const listener: DeviceSetListener = {
      added: (state) => this.#added(state),
      removed: (state) => this.#removed(state),
      changed: (state, previousGatewayId) => this.#changed(state, previousGatewayId),
      heardAgain: (state) => this.#queue(state),
    };
    engine.listen(listener);
    this.#rebuild();
  }

  /** Devices one turn of a check should judge (`check`'s `maxDevices` when a caller yields between turns). */
  get maxDevicesPerTurn(): number {
    return this.settings.maxDevicesPerTurn ?? 100;
  }

  #fleetOf(gatewayId: string): GatewayFleet {
    let f = this.#fleets.get(gatewayId);
    if (!f) {
      f = { devices: new Set(), minIntervalMs: Number.POSITIVE_INFINITY, deferred: [], schedules: null, scheduledDueMs: Number.NaN, scheduledFromMs: Number.NaN };
      this.#fleets.set(gatewayId, f);
    }
    return f;
  }

  #gateway(gatewayId: string, nowMs: number): GatewayState {
    let g = this.gateways.get(gatewayId);
    if (!g) {
      g = { gatewayId, lastBatchAtMs: nowMs, onlineSinceMs: nowMs, willFired: false, willAtMs: nowMs, offline: false, adopted: false, fleet: this.#fleetOf(gatewayId) };
      this.gateways.set(gatewayId, g);
    }
    return g;
  }

  /** A gateway the registry names, expected from `sinceMs` on even if it never reports. */
  expectGateway(gatewayId: string, sinceMs: number): void {
    this.#gateway(gatewayId, sinceMs);
  }

  /**
   * A gateway some of whose devices this instance took over in a rebalance: expected from
   * `sinceMs`, and its first batch clears a GATEWAY_OFFLINE the previous owner may have raised.
   */
  adoptGateway(gatewayId: string, sinceMs: number): void {
    const g = this.#gateway(gatewayId, sinceMs);
    if (!g.offline) g.adopted = true;
  }

  /** None of the gateway's devices is this instance's any more: another instance judges it. */
  forgetGateway(gatewayId: string): void {
    const g = this.gateways.get(gatewayId);
    if (!g) return;
    this.gateways.delete(gatewayId);
    // Any device still behind it is judged on its own now, from its last reading.
    for (const state of g.fleet.devices) if (state.silenceBucket === DEFERRED) state.silenceBucket = Number.NaN;
    g.fleet.deferred.length = 0;
    for (const state of g.fleet.devices) this.#queue(state);
    if (g.fleet.devices.size === 0) this.#fleets.delete(gatewayId);
  }

  /** Readings arrived: their gateways are alive. */
  onReadings(readings: readonly Reading[], out: AlertEvent[]): void {
    let last: GatewayState | undefined;
    for (const r of readings) {
      if (last?.gatewayId !== r.gatewayId) last = this.#gateway(r.gatewayId, r.receivedAtMs);
      if (r.receivedAtMs > last.lastBatchAtMs) last.lastBatchAtMs = r.receivedAtMs;
      last.willFired = false;
      if (last.offline || last.adopted) this.#setOffline(last, false, r.receivedAtMs, undefined, out);
      // The gateway is alive: the devices waiting on its verdict are silent on their own.
      if (last.fleet.deferred.length !== 0) this.#release(last);
    }
  }

  onStatus(status: GatewayStatus, out: AlertEvent[]): void {
    const g = this.#gateway(status.gatewayId, status.receivedAtMs);
    if (status.online) {
      g.willFired = false;
      g.onlineSinceMs = status.receivedAtMs;
      if (g.offline) this.#setOffline(g, false, status.receivedAtMs, undefined, out);
      // Its devices' silence now counts from here.
      else if (g.fleet.deferred.length !== 0) this.#release(g);
    } else if (!g.willFired) {
      g.willFired = true;
      g.willAtMs = status.receivedAtMs;
      // Otherwise check() raises it once the grace is over and the gateway is still not back.
      if (!g.offline && this.settings.lastWillGraceMs === 0) this.#setOffline(g, true, status.receivedAtMs, this.#offlineDetails([{ g, reason: 'last_will' }], status.receivedAtMs)[0], out);
    }
  }

  /** Marks a gateway alert the store holds active, so a restart neither re-fires nor forgets it. */
  seedActive(gatewayId: string, nowMs: number): void {
    this.#gateway(gatewayId, nowMs).offline = true;
  }

  /**
   * Raises and clears silence alerts as of `nowMs`: one pass over the gateways, then the devices
   * whose deadline passed, at most `maxDevices` of them. Returns false when devices are left for
   * another call (a silence storm): the caller yields to the event loop and calls again.
   */
  check(nowMs: number, out: AlertEvent[], maxDevices = Number.POSITIVE_INFINITY): boolean {
    this.#judgeGateways(nowMs, out);
    const due = this.#due;
    const nowKey = due.keyOf(nowMs);
    let judged = 0;
    let done = true;
    drain: while (due.firstKey() <= nowKey) {
      const key = due.firstKey();
      const bucket = due.first();
      while (bucket.length > 0) {
        if (judged >= maxDevices) {
          done = false;
          break drain;
        }
        const state = bucket.pop()!;
        // Queued again since (earlier), deferred, or gone: this entry is stale.
        if (state.silenceBucket !== key) continue;
        state.silenceBucket = Number.NaN;
        judged++;
        this.#judgeDevice(state, nowMs, nowKey, out);
      }
      due.dropFirst();
    }
    this.devicesJudged += judged;
    return done;
  }

  #judgeGateways(nowMs: number, out: AlertEvent[]): void {
    const { gatewayMissedReports, gatewayMinSilenceMs, lastWillGraceMs } = this.settings;
    const goingOffline: Array<{ g: GatewayState; reason: OfflineReason }> = [];
    for (const g of this.gateways.values()) {
      if (g.offline) continue;
      const sinceMs = Math.max(g.lastBatchAtMs, g.onlineSinceMs);
      const scheduledDueMs = this.#scheduledGatewayDueMs(g, sinceMs);
      const silent = scheduledDueMs !== undefined
        ? nowMs > Math.max(scheduledDueMs, sinceMs + gatewayMinSilenceMs)
        : nowMs - sinceMs > Math.max(gatewayMinSilenceMs, this.#minIntervalMs(g.fleet) * gatewayMissedReports);
      const willDue = g.willFired && nowMs - g.willAtMs >= lastWillGraceMs;
      if (silent || willDue) goingOffline.push({ g, reason: willDue ? 'last_will' : 'silent' });
    }
    if (goingOffline.length === 0) return;
    const details = this.#offlineDetails(goingOffline, nowMs);
    // A last will dates the outage from when the broker saw the connection drop.
    goingOffline.forEach(({ g, reason }, i) => this.#setOffline(g, true, reason === 'last_will' ? g.willAtMs : nowMs, details[i], out));
  }

  /** A device whose queued deadline passed: silent, deferred to its gateway, idle, or queued again. */
  #judgeDevice(state: DeviceState, nowMs: number, nowKey: number, out: AlertEvent[]): void {
    // Raised already: a reading clears it and queues the device again (the engine tells).
    if (state.active & CONDITION_BIT.NO_SIGNAL) return;
    const g = state.gatewayId ? this.gateways.get(state.gatewayId) : undefined;
    // Listed on its gateway's alert; queued again when the gateway is back.
    if (g?.offline) return;
    const intervalMs = state.profile.reportIntervalS * 1000;
    const sinceMs = g ? Math.max(state.lastHeardAtMs, g.onlineSinceMs) : state.lastHeardAtMs;
    const { dueMs, expectedFromMs } = this.#deadline(state, sinceMs);
    if (!(nowMs > dueMs)) {
      // Reported since it was queued: wait for its new deadline (after this check's bucket, so it is not taken twice).
      const key = Math.max(this.#due.keyOf(dueMs), nowKey + 1);
      state.silenceBucket = key;
      this.#due.push(key, state);
      return;
    }
    if (g && g.lastBatchAtMs <= expectedFromMs && !isOwnLink(g, state)) {
      // Nothing from the whole gateway since this device last should have reported: wait for the gateway's verdict.
      state.silenceBucket = DEFERRED;
      g.fleet.deferred.push(state);
      return;
    }
    this.engine.raiseSilence(state, nowMs, {
      lastHeardAt: Number.isFinite(state.lastHeardAtMs) ? new Date(state.lastHeardAtMs).toISOString() : null,
      silentForS: Math.round((nowMs - sinceMs) / 1000),
      reportIntervalS: state.profile.reportIntervalS,
      ...(state.profile.schedule ? { schedule: state.profile.schedule, dueAt: new Date(dueMs).toISOString() } : {}),
    }, out);
  }

  /**
   * When a device heard at `sinceMs` is silent, and since when it should have reported (the gateway
   * delivering nothing since then cannot be told from a dead gateway). A device on a report schedule
   * gets its slots' windows (schedule.ts); the others a fixed number of report intervals.
   */
  #deadline(state: DeviceState, sinceMs: number): { dueMs: number; expectedFromMs: number } {
    const intervalMs = state.profile.reportIntervalS * 1000;
    const schedule = state.profile.schedule;
    if (schedule !== undefined && Number.isFinite(sinceMs)) {
      const { dueMs, slotMs } = scheduledDeadline(sinceMs, schedule, intervalMs, this.settings.missedSlots, this.settings.slotGraceMs);
      return { dueMs, expectedFromMs: slotMs };
    }
    const dueMs = sinceMs + intervalMs * this.settings.missedReports;
    return { dueMs, expectedFromMs: dueMs - intervalMs };
  }

  /**
   * A gateway all of whose devices report on a schedule is silent when the first of them is (its
   * batches come only in their windows: a fixed interval would call a gateway of daily meters dead
   * within hours). A meter that connects on its own (its id is the gateway's) is judged as a device:
   * NO_SIGNAL, not GATEWAY_OFFLINE. Undefined: judge the gateway by interval.
   */
  #scheduledGatewayDueMs(g: GatewayState, sinceMs: number): number | undefined {
    const fleet = g.fleet;
    if (fleet.schedules === null) {
      const schedules: Array<{ schedule: ReportSchedule; intervalMs: number }> = [];
      for (const state of fleet.devices) {
        const schedule = state.profile.schedule;
        if (schedule === undefined) {
          schedules.length = 0;
          break;
        }
        const intervalMs = state.profile.reportIntervalS * 1000;
        if (!schedules.some((x) => x.schedule === schedule && x.intervalMs === intervalMs)) schedules.push({ schedule, intervalMs });
      }
      fleet.schedules = schedules;
      fleet.scheduledFromMs = Number.NaN;
    }
    if (fleet.schedules.length === 0) return undefined;
    if (fleet.devices.size === 1 && isOwnLink(g, fleet.devices.values().next().value!)) return Number.POSITIVE_INFINITY;
    if (fleet.scheduledFromMs === sinceMs) return fleet.scheduledDueMs;
    let due = Number.POSITIVE_INFINITY;
    for (const { schedule, intervalMs } of fleet.schedules) due = Math.min(due, scheduledDeadline(sinceMs, schedule, intervalMs, this.settings.missedSlots, this.settings.slotGraceMs).dueMs);
    fleet.scheduledFromMs = sinceMs;
    fleet.scheduledDueMs = due;
    return due;
  }

  /** Queues a device under its deadline, unless it is queued under one no later (then it is looked at then). */
  #queue(state: DeviceState): void {
    const g = state.gatewayId ? this.gateways.get(state.gatewayId) : undefined;
    const sinceMs = g ? Math.max(state.lastHeardAtMs, g.onlineSinceMs) : state.lastHeardAtMs;
    const { dueMs } = this.#deadline(state, sinceMs);
    const key = this.#due.keyOf(dueMs);
    // NaN (not queued) and DEFERRED compare false; a stale entry left behind is skipped when its bucket comes due.
    if (state.silenceBucket <= key) return;
    state.silenceBucket = key;
    this.#due.push(key, state);
  }

  /** The devices deferred to this gateway's verdict are judged again at the next check. */
  #release(g: GatewayState): void {
    const deferred = g.fleet.deferred;
    for (const state of deferred) {
      if (state.silenceBucket !== DEFERRED) continue;
      state.silenceBucket = Number.NaN;
      this.#queue(state);
    }
    deferred.length = 0;
  }

  #minIntervalMs(fleet: GatewayFleet): number {
    if (Number.isNaN(fleet.minIntervalMs)) {
      let min = Number.POSITIVE_INFINITY;
      for (const state of fleet.devices) min = Math.min(min, state.profile.reportIntervalS * 1000);
      fleet.minIntervalMs = min;
    }
    return Math.min(this.settings.defaultGatewayIntervalMs, fleet.minIntervalMs);
  }

  #index(state: DeviceState): void {
    const fleet = this.#fleetOf(state.gatewayId);
    fleet.devices.add(state);
    fleet.schedules = null;
    const intervalMs = state.profile.reportIntervalS * 1000;
    if (intervalMs < fleet.minIntervalMs) fleet.minIntervalMs = intervalMs;
  }

  #unindex(state: DeviceState, gatewayId: string): void {
    const fleet = this.#fleets.get(gatewayId);
    if (!fleet) return;
    fleet.devices.delete(state);
    fleet.schedules = null;
    if (!(state.profile.reportIntervalS * 1000 > fleet.minIntervalMs)) fleet.minIntervalMs = Number.NaN;
  }

  #added(state: DeviceState): void {
    if (state.gatewayId) this.#index(state);
    state.silenceBucket = Number.NaN;
    this.#queue(state);
  }

  #removed(state: DeviceState): void {
    if (state.gatewayId) this.#unindex(state, state.gatewayId);
    state.silenceBucket = Number.NaN;
  }

  #changed(state: DeviceState, previousGatewayId: string): void {
    if (previousGatewayId !== state.gatewayId) {
      if (previousGatewayId) this.#unindex(state, previousGatewayId);
      if (state.gatewayId) this.#index(state);
      // Deferred to the old gateway: judged afresh behind the new one.
      if (state.silenceBucket === DEFERRED) state.silenceBucket = Number.NaN;
    } else if (state.gatewayId) {
      // Its report interval may have grown: the gateway's shortest is found again at the next check.
      const fleet = this.#fleets.get(state.gatewayId);
      if (fleet) {
        fleet.minIntervalMs = Number.NaN;
        fleet.schedules = null;
      }
    }
    this.#queue(state);
  }

  /** Indexes every device of the engine afresh and queues it under its deadline (construction, restore). */
  #rebuild(): void {
    this.#due.clear();
    for (const fleet of this.#fleets.values()) {
      fleet.devices.clear();
      fleet.minIntervalMs = Number.POSITIVE_INFINITY;
      fleet.deferred.length = 0;
      fleet.schedules = null;
    }
    for (const state of this.engine.devices.values()) {
      if (state.gatewayId) this.#index(state);
      state.silenceBucket = Number.NaN;
      this.#queue(state);
    }
  }

  /** The GATEWAY_OFFLINE detail of each gateway, with the devices behind it, from its own index. */
  #offlineDetails(offline: ReadonlyArray<{ g: GatewayState; reason: OfflineReason }>, nowMs: number): Array<Record<string, unknown>> {
    const max = this.settings.maxDevicesInDetail;
    return offline.map(({ g, reason }) => {
      const devices: string[] = [];
      let gasAlarms = 0;
      for (const state of g.fleet.devices) {
        if (GAS_ALARM_KINDS.has(state.kind)) gasAlarms++;
        if (devices.length < max) devices.push(state.deviceId);
      }
      return { reason, lastBatchAt: new Date(g.lastBatchAtMs).toISOString(), silentForS: Math.round((nowMs - g.lastBatchAtMs) / 1000), deviceCount: g.fleet.devices.size, gasAlarms, devices };
    });
  }

  #setOffline(g: GatewayState, offline: boolean, atMs: number, detail: Record<string, unknown> | undefined, out: AlertEvent[]): void {
    g.offline = offline;
    g.adopted = false;
    if (offline) {
      // Its overdue devices are listed on the gateway's alert instead of raising their own.
      for (const state of g.fleet.deferred) if (state.silenceBucket === DEFERRED) state.silenceBucket = Number.NaN;
      g.fleet.deferred.length = 0;
    } else {
      g.onlineSinceMs = Math.max(g.onlineSinceMs, atMs);
      // Back: its devices left idle while it was down are due a full silence window from now.
      g.fleet.deferred.length = 0;
      for (const state of g.fleet.devices) {
        if (state.silenceBucket === DEFERRED) state.silenceBucket = Number.NaN;
        if (!(state.active & CONDITION_BIT.NO_SIGNAL)) this.#queue(state);
      }
    }
    out.push({
      type: offline ? 'raise' : 'clear',
      subject: 'gateway',
      subjectId: g.gatewayId,
      gatewayId: g.gatewayId,
      condition: 'GATEWAY_OFFLINE',
      severity: DEFAULT_SEVERITY.GATEWAY_OFFLINE,
      atMs,
      detail,
    });
  }

  snapshot(): GatewaySnapshot[] {
    return [...this.gateways.values()].map(({ gatewayId, lastBatchAtMs, onlineSinceMs, willFired, willAtMs, offline }) => ({ gatewayId, lastBatchAtMs, onlineSinceMs, willFired, willAtMs, offline }));
  }

  /** Restores the gateways, then indexes and queues every device the engine holds afresh. */
  restore(snapshots: readonly GatewaySnapshot[]): void {
    for (const s of snapshots) {
      this.gateways.set(s.gatewayId, {
        gatewayId: s.gatewayId,
        lastBatchAtMs: s.lastBatchAtMs,
        onlineSinceMs: s.onlineSinceMs,
        willFired: s.willFired,
        willAtMs: s.willAtMs ?? s.lastBatchAtMs,
        offline: s.offline,
        adopted: false,
        fleet: this.#fleetOf(s.gatewayId),
      });
    }
    this.#rebuild();
  }
}
