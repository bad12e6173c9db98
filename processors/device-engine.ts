import type { TObject, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { CONDITIONS, type AlertEvent, type Condition, type DeviceKind, type Reading, type ValveState } from '../contracts/messages.ts';
import type { Detail, DetectorDefinition, Findings, LinkedFacts } from './detector.ts';
import { defaultProfile, type DeviceProfile } from './device-profile.ts';
import { dropOlder, FlapStateSchema, newFlapState, parseFlapSettings, recordChange, type FlapSettings, type FlapState } from './flapping.ts';
import { EpisodesSchema, LateRunSchema, parseLateSettings, recordEpisode, recordEpisodeEdge, withinEpisode, nextEpisodeStart, type Episodes, type HistoricalFinding, type LateRun, type LateSettings } from './late-readings.ts';
import { DEFAULT_SEVERITY } from './severity.ts';

/** A detector with its settings parsed once at start. */
export interface ConfiguredDetector {
  definition: DetectorDefinition<TObject, unknown>;
  settings: unknown;
}

/** Where the engine finds registered devices' profiles; it caches them per device and listens for edits. */
export interface ProfileSource {
  profileOf(deviceId: string): DeviceProfile | undefined;
}

/** Per-device state held by the processor. */
export interface DeviceState {
  deviceId: string;
  kind: DeviceKind;
  gatewayId: string;
  profile: DeviceProfile;
  /** Device time of the newest reading judged live; older ones are late, judged in event time apart (processors/late-readings.ts). */
  lastAtMs: number;
  /** Pipeline time the device was last heard of, for silence. */
  lastHeardAtMs: number;
  /** Bit per condition (index in CONDITIONS) that has an active alert. */
  active: number;
  /** One state per detector of the device's kind, in `detectorsFor(kind)` order; untouched ones share their initial state. */
  detectorStates: unknown[];
  /** Last reported valve position, for the gas alarms linked to this device's valve (VALVE_NOT_CUT). */
  valve?: ValveState;
  /**
   * The newest reading, kept only while the device has an active alert: that is when a technician
   * needs its values, and a city's healthy fleet then costs no reading per device (the readings'
   * history is in InfluxDB).
   */
  lastReading?: Reading;
  /** Recent raises and clears and the flapping conditions held raised (processors/flapping.ts); absent while quiet. */
  flap?: FlapState;
  /** The run judging late readings (processors/late-readings.ts); absent until one came. */
  lateRun?: LateRun;
  /** Alert episodes within the late-reading window, live and historical; absent until an alert. */
  episodes?: Episodes;
  /**
   * Kept by the silence watch, not the engine: the deadline bucket the device is queued in for its
   * silence check (NaN: none). Not part of a snapshot.
   */
  silenceBucket: number;
}

export interface EngineObserver {
  /** `late` counts every reading older than its device's newest; `tooOld` those of them past the late-reading window, not judged. */
  onJudged(judged: number, late: number, unregistered: number, tooOld: number): void;
}

/**
 * Told of what changes the device set besides readings, for indexes kept beside it (the silence
 * watch's deadlines and devices per gateway). Never called per ordinary reading.
 */
export interface DeviceSetListener {
  /** A state entered the engine: first reading, registry, restore or seeded alert. */
  added(state: DeviceState): void;
  /** A state left it: rebalance, or replaced by a restored one. */
  removed(state: DeviceState): void;
  /** Its profile or gateway changed (`previousGatewayId` is the gateway it had). */
  changed(state: DeviceState, previousGatewayId: string): void;
  /** A reading cleared its NO_SIGNAL. */
  heardAgain(state: DeviceState): void;
}

/**
 * Schemas a restore checks saved state against, compiled once: a processor taking over a partition
 * checks every detector state of up to a million devices (bench/kafka-restore.ts), and
 * `Value.Check` walks the schema afresh each time. Same verdicts, several times faster.
 */
const compiledChecks = new WeakMap<TSchema, TypeCheck<TSchema>>();
function compiledCheck(schema: TSchema): TypeCheck<TSchema> {
  let check = compiledChecks.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiledChecks.set(schema, check);
  }
  return check;
}
const flapStateCheck = compiledCheck(FlapStateSchema);
const lateRunCheck = compiledCheck(LateRunSchema);
const episodesCheck = compiledCheck(EpisodesSchema);

export const CONDITION_BIT = Object.fromEntries(CONDITIONS.map((c, i) => [c, 1 << i])) as Record<Condition, number>;

export function activeConditions(mask: number): Condition[] {
  const out: Condition[] = [];
  for (let i = 0; i < CONDITIONS.length; i++) if (mask & (1 << i)) out.push(CONDITIONS[i]!);
  return out;
}

/** The JSON form of a device's state, for snapshots and rebalances. */
export interface DeviceSnapshot {
  deviceId: string;
  kind: DeviceKind;
  gatewayId: string;
  lastAtMs: number;
  lastHeardAtMs: number;
  active: Condition[];
  detectors: Record<string, unknown>;
  valve?: ValveState;
  lastReading?: Reading;
  flap?: FlapState;
  lateRun?: LateRun;
  episodes?: Episodes;
}

/**
 * Runs every detector of a device's kind over its readings, in device-time order, and turns their
 * findings into raise/clear edges against the device's active conditions. Pure with respect to
 * time: it reads no clock, only the readings' own timestamps.
 */
export class DeviceEngine {
  readonly devices = new Map<string, DeviceState>();
  readonly #byKind: Record<DeviceKind, ConfiguredDetector[]>;
  /** Each detector's initial state, made once: detectors never change a state in place, so devices share it until their first change. */
  readonly #initialStates: Record<DeviceKind, readonly unknown[]>;
  /** Each detector's state schema compiled, in `#byKind` order, for restores. */
  readonly #stateChecks: Record<DeviceKind, ReadonlyArray<TypeCheck<TSchema>>>;
  readonly #linked: LinkedFacts = {};
  #listener: DeviceSetListener | undefined;
  // The device and reading being judged, so that one findings sink serves every detector call.
  #judged!: DeviceState;
  #judgedAtMs = 0;
  #edges!: AlertEvent[];
  readonly #findings: Findings = {
    report: (condition, present, detail, severity) => {
      const state = this.#judged;
      const bit = CONDITION_BIT[condition];
      // A flapping condition held raised is, as far as its detector goes, over.
      if (((state.active & bit) !== 0 && ((state.flap?.held ?? 0) & bit) === 0) === present) return;
      if (!this.#flapping.enabled) return this.#edge(state, condition, present, this.#judgedAtMs, severity, detail, this.#edges);
      this.#flapEdge(state, condition, present, severity, detail);
    },
  };
  readonly #flapping: FlapSettings;
  readonly #late: LateSettings;
  /** Delivery delay of the reading being judged live, when over `delayedAfterMs` (else 0): its edges carry it. */
  #judgedDelayMs = 0;
  // The device and reading a late run is judging, for the late findings sink.
  #lateJudged!: DeviceState;
  #lateReading!: Reading;
  /** What late runs found in the batch being processed; their clears are known at its end. */
  readonly #historical: Array<{ state: DeviceState; finding: HistoricalFinding }> = [];
  /** A late run judges without linked facts: the valve's position now says nothing about then. */
  readonly #noLinkedFacts: LinkedFacts = Object.freeze({});
  readonly #lateFindings: Findings = {
    report: (condition, present, detail, severity) => {
      const run = this.#lateJudged.lateRun!;
      const bit = CONDITION_BIT[condition];
      if (((run.present & bit) !== 0) === present) return;
      run.present ^= bit;
      const reading = this.#lateReading;
      if (present) {
        this.#historical.push({
          state: this.#lateJudged,
          finding: { condition, raisedAtMs: reading.atMs, clearedAtMs: undefined, severity, detail: detail?.(), delayMs: Math.max(0, reading.receivedAtMs - reading.atMs) },
        });
        return;
      }
      for (let i = this.#historical.length - 1; i >= 0; i--) {
        const h = this.#historical[i]!;
        if (h.state === this.#lateJudged && h.finding.condition === condition && h.finding.clearedAtMs === undefined) {
          h.finding.clearedAtMs = reading.atMs;
          break;
        }
      }
    },
  };

  constructor(
    detectors: readonly ConfiguredDetector[],
    private readonly profiles: ProfileSource,
    private readonly observer: EngineObserver,
    /** Flap detection over detector findings; its defaults when omitted. */
    flapping: FlapSettings = parseFlapSettings(),
    /** Event-time judging of late readings; its defaults when omitted. */
    late: LateSettings = parseLateSettings(),
  ) {
    this.#flapping = flapping;
    this.#late = late;
    const byKind = {} as Record<DeviceKind, ConfiguredDetector[]>;
    for (const kind of ['household_meter', 'industrial_controller', 'flow_meter', 'home_gas_alarm', 'alarm_controller'] as const) {
      byKind[kind] = detectors.filter((d) => d.definition.kinds.includes(kind));
    }
    this.#byKind = byKind;
    const initial = {} as Record<DeviceKind, readonly unknown[]>;
    for (const kind of Object.keys(byKind) as DeviceKind[]) initial[kind] = byKind[kind].map((d) => d.definition.initialState());
    this.#initialStates = initial;
    const checks = {} as Record<DeviceKind, ReadonlyArray<TypeCheck<TSchema>>>;
    for (const kind of Object.keys(byKind) as DeviceKind[]) checks[kind] = byKind[kind].map((d) => compiledCheck(d.definition.stateSchema));
    this.#stateChecks = checks;
  }

  /** Sets the one listener to the device set (the silence watch). */
  listen(listener: DeviceSetListener): void {
    this.#listener = listener;
  }

  detectorsFor(kind: DeviceKind): readonly ConfiguredDetector[] {
    return this.#byKind[kind];
  }

  /**
   * Judges a batch of readings; raise/clear edges are appended to `out`, and after them the
   * historical alerts late readings showed (each a raise and its clear, `late: true`).
   */
  process(readings: readonly Reading[], out: AlertEvent[]): void {
    let late = 0;
    let tooOld = 0;
    let unregistered = 0;
    for (const reading of readings) {
      const state = this.#stateFor(reading);
      if (reading.receivedAtMs > state.lastHeardAtMs) state.lastHeardAtMs = reading.receivedAtMs;
      if (state.active & CONDITION_BIT.NO_SIGNAL) {
        this.#edge(state, 'NO_SIGNAL', false, reading.receivedAtMs, undefined, undefined, out);
        this.#listener?.heardAgain(state);
      }
      if (!(reading.atMs > state.lastAtMs)) {
        late++;
        if (this.#late.enabled && !this.#judgeLate(state, reading)) tooOld++;
        continue;
      }
      if (!state.profile.registered) unregistered++;
      state.lastAtMs = reading.atMs;
      // Keep the string the state already holds when it is the same gateway: each batch brings its own copy.
      if (state.gatewayId !== reading.gatewayId) {
        const previous = state.gatewayId;
        state.gatewayId = reading.gatewayId;
        this.#listener?.changed(state, previous);
      }
      if (reading.valve !== undefined && reading.valve !== state.valve) state.valve = reading.valve === 'closed' ? 'closed' : 'open';
      const delayMs = reading.receivedAtMs - reading.atMs;
      this.#judgedDelayMs = delayMs > this.#late.delayedAfterMs ? delayMs : 0;
      this.#judge(state, reading, out);
      if (state.flap !== undefined) this.#settleFlaps(state, state.flap, reading.atMs, out);
      this.#judgedDelayMs = 0;
      state.lastReading = state.active === 0 ? undefined : reading;
    }
    if (this.#historical.length > 0) this.#flushHistorical(out);
    this.observer.onJudged(readings.length - late, late, unregistered, tooOld);
  }

  /**
   * A late reading, judged on the device's late run (started afresh when the reading is not newer
   * than the run's last); false when it is older than the window and so not judged.
   */
  #judgeLate(state: DeviceState, reading: Reading): boolean {
    if (state.lastAtMs - reading.atMs > this.#late.historyWindowMs) return false;
    let run = state.lateRun;
    if (run === undefined || !(reading.atMs > run.atMs)) run = state.lateRun = { states: [...this.#initialStates[state.kind]], atMs: reading.atMs, present: 0 };
    run.atMs = reading.atMs;
    this.#lateJudged = state;
    this.#lateReading = reading;
    const detectors = this.#byKind[state.kind];
    for (let i = 0; i < detectors.length; i++) {
      const { definition, settings } = detectors[i]!;
      run.states[i] = definition.step(state.profile, settings as never, run.states[i], reading, this.#noLinkedFacts, this.#lateFindings);
    }
    return true;
  }

  /**
   * Turns what late runs found into historical alerts: raised when found, cleared when the run saw
   * the condition end, else at the device's newest reading or the next episode's start, whichever
   * is first. A finding of a condition active now, or inside an episode already known, adds nothing.
   */
  #flushHistorical(out: AlertEvent[]): void {
    for (const { state, finding } of this.#historical) {
      const { condition, raisedAtMs } = finding;
      if ((state.active & CONDITION_BIT[condition]) !== 0 || withinEpisode(state.episodes, condition, raisedAtMs)) continue;
      const clearedAtMs = Math.max(raisedAtMs, Math.min(finding.clearedAtMs ?? state.lastAtMs, nextEpisodeStart(state.episodes, condition, raisedAtMs)));
      recordEpisode((state.episodes ??= {}), condition, raisedAtMs, clearedAtMs, state.lastAtMs - this.#late.historyWindowMs);
      const base = {
        subject: 'device' as const,
        subjectId: state.deviceId,
        gatewayId: state.gatewayId,
        kind: state.kind,
        vendor: state.profile.vendor ?? state.lastReading?.vendor,
        condition,
        severity: finding.severity ?? DEFAULT_SEVERITY[condition],
        late: true as const,
        delayMs: finding.delayMs,
        ...(state.profile.registered ? {} : { unregistered: true }),
      };
      out.push({ ...base, type: 'raise', atMs: raisedAtMs, detail: finding.detail });
      out.push({ ...base, type: 'clear', atMs: clearedAtMs, detail: { clearedBy: finding.clearedAtMs !== undefined && finding.clearedAtMs === clearedAtMs ? 'late_reading' : 'newer_reading' } });
    }
    this.#historical.length = 0;
  }

  #judge(state: DeviceState, reading: Reading, out: AlertEvent[]): void {
    const detectors = this.#byKind[state.kind];
    const linked = this.#linked;
    linked.linkedValve = state.profile.valveId ? this.devices.get(state.profile.valveId)?.valve : undefined;
    this.#judged = state;
    this.#judgedAtMs = reading.atMs;
    this.#edges = out;
    for (let i = 0; i < detectors.length; i++) {
      const { definition, settings } = detectors[i]!;
      state.detectorStates[i] = definition.step(state.profile, settings as never, state.detectorStates[i], reading, linked, this.#findings);
    }
  }

  /**
   * A detector's raise or clear with flap detection: counted; a raise that makes `minChanges` within
   * the window goes out marked flapping and the condition is held raised from then on.
   */
  #flapEdge(state: DeviceState, condition: Condition, present: boolean, severity: AlertEvent['severity'] | undefined, detail: Detail | undefined): void {
    const { windowMs, minChanges } = this.#flapping;
    const atMs = this.#judgedAtMs;
    const flap = (state.flap ??= newFlapState());
    const changes = recordChange(flap, condition, atMs, windowMs);
    const bit = CONDITION_BIT[condition];
    if (flap.flapping & bit) {
      if (present) flap.held &= ~bit;
      else flap.held |= bit;
      return;
    }
    if (present && changes >= minChanges) {
      flap.flapping |= bit;
      flap.counted[condition] = changes;
      this.#edge(state, condition, true, atMs, severity, () => ({ ...detail?.(), flapping: true, changes, windowMs }), this.#edges);
      return;
    }
    this.#edge(state, condition, present, atMs, severity, detail, this.#edges);
  }

  /** Forgets changes out of the window; a flapping condition stable for the window is released (cleared if its detector says it is over). */
  #settleFlaps(state: DeviceState, flap: FlapState, atMs: number, out: AlertEvent[]): void {
    const { windowMs } = this.#flapping;
    for (const condition of Object.keys(flap.changes) as Condition[]) {
      if (!dropOlder(flap.changes[condition]!, atMs - windowMs)) continue;
      delete flap.changes[condition];
      const bit = CONDITION_BIT[condition];
      if ((flap.flapping & bit) === 0) continue;
      const changes = flap.counted[condition] ?? 0;
      delete flap.counted[condition];
      flap.flapping &= ~bit;
      if (flap.held & bit) {
        flap.held &= ~bit;
        this.#edge(state, condition, false, atMs, undefined, () => ({ flapping: true, changes, stableMs: windowMs }), out);
      }
    }
    if (flap.flapping === 0 && Object.keys(flap.changes).length === 0) state.flap = undefined;
  }

  #edge(state: DeviceState, condition: Condition, present: boolean, atMs: number, severity: AlertEvent['severity'] | undefined, detail: Detail | undefined, out: AlertEvent[]): void {
    const bit = CONDITION_BIT[condition];
    const isActive = (state.active & bit) !== 0;
    if (present === isActive) return;
    state.active ^= bit;
    // Silence is pipeline time, never judged from a late reading: no episode needed.
    if (this.#late.enabled && condition !== 'NO_SIGNAL') recordEpisodeEdge((state.episodes ??= {}), condition, present, atMs, state.lastAtMs - this.#late.historyWindowMs);
    const delayMs = this.#judgedDelayMs;
    out.push({
      type: present ? 'raise' : 'clear',
      subject: 'device',
      subjectId: state.deviceId,
      gatewayId: state.gatewayId,
      kind: state.kind,
      vendor: state.profile.vendor ?? state.lastReading?.vendor,
      condition,
      severity: severity ?? DEFAULT_SEVERITY[condition],
      atMs,
      detail: detail?.(),
      ...(delayMs > 0 ? { delayMs } : {}),
      ...(state.profile.registered ? {} : { unregistered: true }),
    });
  }

  /** Raises NO_SIGNAL for a silent device (called by the silence watch). */
  raiseSilence(state: DeviceState, nowMs: number, detail: Record<string, unknown>, out: AlertEvent[]): void {
    this.#edge(state, 'NO_SIGNAL', true, nowMs, undefined, () => detail, out);
  }

  #stateFor(reading: Reading): DeviceState {
    let state = this.devices.get(reading.deviceId);
    if (state === undefined) {
      const profile = this.profiles.profileOf(reading.deviceId) ?? defaultProfile(reading.deviceId, reading.kind, reading.vendor);
      state = this.#newState(reading.deviceId, reading.kind, reading.gatewayId, profile);
      this.#add(state);
    } else if (state.kind !== reading.kind) {
      // The device now reports as another kind (replaced on site): judge it afresh as that kind.
      state.kind = reading.kind;
      state.detectorStates = [...this.#initialStates[reading.kind]];
      state.lastAtMs = Number.NEGATIVE_INFINITY;
      state.lateRun = undefined;
    }
    return state;
  }

  #newState(deviceId: string, kind: DeviceKind, gatewayId: string, profile: DeviceProfile): DeviceState {
    return {
      // The registry's copy of the id, not the reading's: one string per device, whatever arrives.
      deviceId: profile.registered ? profile.deviceId : deviceId,
      kind,
      gatewayId,
      profile,
      lastAtMs: Number.NEGATIVE_INFINITY,
      lastHeardAtMs: Number.NEGATIVE_INFINITY,
      active: 0,
      detectorStates: [...this.#initialStates[kind]],
      valve: undefined,
      lastReading: undefined,
      silenceBucket: Number.NaN,
    };
  }

  #add(state: DeviceState): void {
    const previous = this.devices.get(state.deviceId);
    this.devices.set(state.deviceId, state);
    if (previous !== undefined) this.#listener?.removed(previous);
    this.#listener?.added(state);
  }

  /** Registers a device known from the registry before it has reported, so its silence is noticed. */
  expect(profile: DeviceProfile, sinceMs: number): void {
    const existing = this.devices.get(profile.deviceId);
    if (existing) {
      existing.profile = profile;
      this.#listener?.changed(existing, existing.gatewayId);
      return;
    }
    const state = this.#newState(profile.deviceId, profile.kind, profile.gatewayId ?? '', profile);
    state.lastHeardAtMs = sinceMs;
    this.#add(state);
  }

  /** Another processor instance owns the device now (rebalance): its state leaves this one. */
  forget(deviceId: string): void {
    const state = this.devices.get(deviceId);
    if (state === undefined) return;
    this.devices.delete(deviceId);
    this.#listener?.removed(state);
  }

  /** A registry edit: the device is judged with its new profile from its next reading on. */
  updateProfile(deviceId: string): void {
    const state = this.devices.get(deviceId);
    if (!state) return;
    state.profile = this.profiles.profileOf(deviceId) ?? defaultProfile(deviceId, state.kind, state.lastReading?.vendor);
    this.#listener?.changed(state, state.gatewayId);
  }

  /** Marks conditions that the alert store holds active, so a restart neither re-fires nor forgets them. */
  seedActive(deviceId: string, kind: DeviceKind, gatewayId: string, condition: Condition): void {
    let state = this.devices.get(deviceId);
    if (!state) {
      state = this.#newState(deviceId, kind, gatewayId, this.profiles.profileOf(deviceId) ?? defaultProfile(deviceId, kind));
      state.active |= CONDITION_BIT[condition];
      this.#add(state);
      return;
    }
    state.active |= CONDITION_BIT[condition];
  }

  snapshotDevice(state: DeviceState): DeviceSnapshot {
    const detectors: Record<string, unknown> = {};
    this.#byKind[state.kind].forEach((d, i) => (detectors[d.definition.name] = state.detectorStates[i]));
    return {
      deviceId: state.deviceId,
      kind: state.kind,
      gatewayId: state.gatewayId,
      lastAtMs: state.lastAtMs,
      lastHeardAtMs: state.lastHeardAtMs,
      active: activeConditions(state.active),
      detectors,
      ...(state.valve ? { valve: state.valve } : {}),
      ...(state.lastReading ? { lastReading: state.lastReading } : {}),
      ...(state.flap ? { flap: structuredClone(state.flap) } : {}),
      ...(state.lateRun ? { lateRun: structuredClone(state.lateRun) } : {}),
      ...(state.episodes ? { episodes: structuredClone(state.episodes) } : {}),
    };
  }

  /** Restores one device; a detector state that no longer fits its schema starts afresh rather than failing. */
  restoreDevice(snapshot: DeviceSnapshot): void {
    const profile = this.profiles.profileOf(snapshot.deviceId) ?? defaultProfile(snapshot.deviceId, snapshot.kind, snapshot.lastReading?.vendor);
    const state = this.#newState(snapshot.deviceId, snapshot.kind, snapshot.gatewayId, profile);
    state.lastAtMs = snapshot.lastAtMs ?? Number.NEGATIVE_INFINITY;
    state.lastHeardAtMs = snapshot.lastHeardAtMs ?? Number.NEGATIVE_INFINITY;
    for (const c of snapshot.active) if (c in CONDITION_BIT) state.active |= CONDITION_BIT[c];
    const detectors = this.#byKind[snapshot.kind];
    const checks = this.#stateChecks[snapshot.kind];
    for (let i = 0; i < detectors.length; i++) {
      const saved = snapshot.detectors[detectors[i]!.definition.name];
      if (saved !== undefined && checks[i]!.Check(saved)) state.detectorStates[i] = saved;
    }
    // Snapshots from before the valve was kept on its own carry it in their last reading.
    state.valve = snapshot.valve ?? snapshot.lastReading?.valve;
    state.lastReading = state.active === 0 ? undefined : snapshot.lastReading;
    if (snapshot.flap !== undefined && flapStateCheck.Check(snapshot.flap)) state.flap = structuredClone(snapshot.flap);
    // A late run of another detector set starts afresh; episodes are only times.
    if (snapshot.lateRun !== undefined && lateRunCheck.Check(snapshot.lateRun) && snapshot.lateRun.states.length === detectors.length) state.lateRun = structuredClone(snapshot.lateRun);
    if (snapshot.episodes !== undefined && episodesCheck.Check(snapshot.episodes)) state.episodes = structuredClone(snapshot.episodes);
    this.#add(state);
  }
}
