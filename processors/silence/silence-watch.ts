import { Type, type Static } from '@sinclair/typebox';
import type { AlertEvent, GatewayStatus, Reading } from '../../contracts/messages.ts';
import { DEFAULT_SEVERITY } from '../severity.ts';
import { CONDITION_BIT, type DeviceEngine, type DeviceState } from '../device-engine.ts';

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
  checkIntervalMs: Type.Integer({ default: 5_000, minimum: 100, description: 'how often silence is checked, ms' }),
  maxDevicesInDetail: Type.Integer({ default: 1_000, minimum: 0, description: 'device ids listed on a GATEWAY_OFFLINE alert (the count is always given)' }),
});
export type SilenceSettings = Static<typeof SilenceSettingsSchema>;

type OfflineReason = 'last_will' | 'silent';

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
  /** Shortest expected report interval among its devices, from the last check. */
  minIntervalMs: number;
  /**
   * Taken over from another processor instance, whose GATEWAY_OFFLINE this one cannot know:
   * its first batch sends a clear (a no-op in the alert store when nothing is active).
   */
  adopted: boolean;
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
 * NoSignalWatch and GatewayOfflineWatch in one pass: silence is absence of data, so it is judged
 * on the pipeline's (injected) clock, not on readings. A gateway whose last will fired or that went
 * silent gets one GATEWAY_OFFLINE alert listing its devices, and its devices get no NO_SIGNAL of
 * their own while it is down: one alert instead of a storm.
 */
export class SilenceWatch {
  readonly gateways = new Map<string, GatewayState>();

  constructor(
    private readonly engine: DeviceEngine,
    private readonly settings: SilenceSettings,
  ) {}

  #gateway(gatewayId: string, nowMs: number): GatewayState {
    let g = this.gateways.get(gatewayId);
    if (!g) {
      g = { gatewayId, lastBatchAtMs: nowMs, onlineSinceMs: nowMs, willFired: false, willAtMs: nowMs, offline: false, minIntervalMs: this.settings.defaultGatewayIntervalMs, adopted: false };
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
    this.gateways.delete(gatewayId);
  }

  /** Readings arrived: their gateways are alive. */
  onReadings(readings: readonly Reading[], out: AlertEvent[]): void {
    let last: GatewayState | undefined;
    for (const r of readings) {
      if (last?.gatewayId !== r.gatewayId) last = this.#gateway(r.gatewayId, r.receivedAtMs);
      if (r.receivedAtMs > last.lastBatchAtMs) last.lastBatchAtMs = r.receivedAtMs;
      last.willFired = false;
      if (last.offline || last.adopted) this.#setOffline(last, false, r.receivedAtMs, undefined, out);
    }
  }

  onStatus(status: GatewayStatus, out: AlertEvent[]): void {
    const g = this.#gateway(status.gatewayId, status.receivedAtMs);
    if (status.online) {
      g.willFired = false;
      g.onlineSinceMs = status.receivedAtMs;
      if (g.offline) this.#setOffline(g, false, status.receivedAtMs, undefined, out);
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

  /** Raises and clears silence alerts as of `nowMs`. One pass over the gateways, one over the devices. */
  check(nowMs: number, out: AlertEvent[]): void {
    const { missedReports, gatewayMissedReports, gatewayMinSilenceMs } = this.settings;
    const goingOffline: Array<{ g: GatewayState; reason: OfflineReason }> = [];
    for (const g of this.gateways.values()) {
      const silentAfterMs = Math.max(gatewayMinSilenceMs, g.minIntervalMs * gatewayMissedReports);
      const silent = nowMs - Math.max(g.lastBatchAtMs, g.onlineSinceMs) > silentAfterMs;
      const willDue = g.willFired && nowMs - g.willAtMs >= this.settings.lastWillGraceMs;
      if ((silent || willDue) && !g.offline) goingOffline.push({ g, reason: willDue ? 'last_will' : 'silent' });
      g.minIntervalMs = this.settings.defaultGatewayIntervalMs;
    }
    if (goingOffline.length > 0) {
      // One pass over the devices for all of them: a city-wide outage must not cost gateways × devices.
      const details = this.#offlineDetails(goingOffline, nowMs);
      // A last will dates the outage from when the broker saw the connection drop.
      goingOffline.forEach(({ g, reason }, i) => this.#setOffline(g, true, reason === 'last_will' ? g.willAtMs : nowMs, details[i], out));
    }
    for (const state of this.engine.devices.values()) {
      const g = state.gatewayId ? this.gateways.get(state.gatewayId) : undefined;
      const intervalMs = state.profile.reportIntervalS * 1000;
      if (g) {
        if (intervalMs < g.minIntervalMs) g.minIntervalMs = intervalMs;
        if (g.offline) continue;
      }
      if (state.active & CONDITION_BIT.NO_SIGNAL) continue;
      const since = g ? Math.max(state.lastHeardAtMs, g.onlineSinceMs) : state.lastHeardAtMs;
      if (nowMs - since > intervalMs * missedReports) this.#raiseNoSignal(state, nowMs, since);
    }
    out.push(...this.#pending);
    this.#pending.length = 0;
  }

  readonly #pending: AlertEvent[] = [];

  #raiseNoSignal(state: DeviceState, nowMs: number, sinceMs: number): void {
    this.engine.raiseSilence(state, nowMs, {
      lastHeardAt: Number.isFinite(state.lastHeardAtMs) ? new Date(state.lastHeardAtMs).toISOString() : null,
      silentForS: Math.round((nowMs - sinceMs) / 1000),
      reportIntervalS: state.profile.reportIntervalS,
    }, this.#pending);
  }

  /** The GATEWAY_OFFLINE detail of each gateway, with the devices behind it, from one pass over the devices. */
  #offlineDetails(offline: ReadonlyArray<{ g: GatewayState; reason: OfflineReason }>, nowMs: number): Array<Record<string, unknown>> {
    const behind = new Map<string, { deviceCount: number; devices: string[] }>(offline.map(({ g }) => [g.gatewayId, { deviceCount: 0, devices: [] }]));
    for (const state of this.engine.devices.values()) {
      const found = behind.get(state.gatewayId);
      if (found === undefined) continue;
      found.deviceCount++;
      if (found.devices.length < this.settings.maxDevicesInDetail) found.devices.push(state.deviceId);
    }
    return offline.map(({ g, reason }) => ({ reason, lastBatchAt: new Date(g.lastBatchAtMs).toISOString(), silentForS: Math.round((nowMs - g.lastBatchAtMs) / 1000), ...behind.get(g.gatewayId)! }));
  }

  #setOffline(g: GatewayState, offline: boolean, atMs: number, detail: Record<string, unknown> | undefined, out: AlertEvent[]): void {
    g.offline = offline;
    g.adopted = false;
    if (!offline) g.onlineSinceMs = Math.max(g.onlineSinceMs, atMs);
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

  restore(snapshots: readonly GatewaySnapshot[]): void {
    for (const s of snapshots) this.gateways.set(s.gatewayId, { ...s, willAtMs: s.willAtMs ?? s.lastBatchAtMs, minIntervalMs: this.settings.defaultGatewayIntervalMs, adopted: false });
  }
}
