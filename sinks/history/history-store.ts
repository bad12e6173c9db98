import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { DEVICE_KINDS, type DeviceKind, type Reading } from '../../contracts/messages.ts';
import { KIND_CODE, KIND_EXTRACT, KIND_FIELDS, mergeValue, statusTokens, type HistoryField } from './fields.ts';
import type { HistorySettings } from './options.ts';
import { bucketMsFor, type HistoryAnswer, type HistoryPoint } from './readings-history.ts';

/**
 * The local readings history: per device, its recent points in one plain array of numbers,
 * `[kind, count, (time, status, ...values) × capacity]`, oldest first. A plain array holds its
 * numbers unboxed (8 bytes each) behind a 16-byte header, where a typed array costs some 350 bytes
 * of objects per device (measured: README.md) — that overhead, times a million devices, is what
 * matters. Missing values are NaN; `status` is an id into a bounded table of token sets.
 *
 * Bounds, all on device time (the readings' own `atMs`, never the wall clock):
 * - age: points older than `maxAgeMs` behind the newest reading seen are dropped;
 * - resolution: a reading within the first tier's resolution of the point before merges into it,
 *   and when a device's array is full its points are re-bucketed by age (`tiers`);
 * - per device: at most `maxPointsPerDevice`; a device that is still full merges its oldest points pairwise;
 * - total: arrays grow only within `maxBytes`; past it each device gets an equal share of points,
 *   and `sweep()` compacts the devices above it.
 *
 * Finding a device's array is most of what a reading costs (a Map lookup on a fresh id string,
 * ~0.15–0.25 µs at 100 k devices). Devices therefore live in numbered slots, and per gateway the
 * store remembers which slot each position of its last batch went to: a gateway sends its devices
 * in the same order batch after batch, so a reading usually finds its slot by one string
 * comparison, and the Map is asked only when that misses.
 */

const HEADER = 2;
/** Points of a device's first array: a daily meter keeps 7 in 8 at most. */
const FIRST_CAPACITY = 4;
/**
 * A device reporting at least every other first-tier bucket grows its array fourfold (4 → 16 → 64):
 * it will fill the first tier (60 points at the defaults) within the hour anyway, and each growth
 * is a new array and a copy. Others double.
 */
const DENSE_GROWTH = 4;
/**
 * A fleet's devices fill their arrays in step (after a start without a saved history, or a bench's
 * fleet): were they all to grow at the same count, every device's new array would be allocated
 * within one round of the fleet — 200 MB for 20 000 devices going 64 → 256 — all of it surviving,
 * which the young generation copies out in 80–100 ms pauses on the alarm path. So a dense device
 * grows to up to this fraction less than fourfold, by its slot, and its next growth comes that
 * much earlier: each stage is spread over a quarter of its readings instead of one round.
 */
const GROWTH_STAGGER = 0.25;
/** What a device costs beyond its numbers: Map entry, id string and the array's header (V8 x64, measured 104–110), and its two slot entries. */
export const DEVICE_OVERHEAD_BYTES = 128;
/** A slot no device holds. */
const FREE: number[] = [];
const OVERFLOW_TOKEN = '…';

interface Layout {
  kind: DeviceKind;
  fields: readonly HistoryField[];
  extract: (reading: Reading, out: Float64Array) => void;
  stride: number;
}

const LAYOUTS: readonly Layout[] = DEVICE_KINDS.map((kind) => ({ kind, fields: KIND_FIELDS[kind], extract: KIND_EXTRACT[kind], stride: 2 + KIND_FIELDS[kind].length }));

export type HistoryStoreOptions = Pick<HistorySettings, 'maxAgeMs' | 'tiers' | 'maxPointsPerDevice' | 'maxBytes' | 'statusSetLimit'>;

export interface HistoryStoreStats {
  devices: number;
  points: number;
  /** Estimated memory: 8 bytes per number plus DEVICE_OVERHEAD_BYTES per device. */
  bytes: number;
  /** Most points a device may hold now: maxPointsPerDevice, or less while the total is at maxBytes. */
  pointsPerDeviceLimit: number;
  /** Readings taken (each one a point, or merged into one). */
  readings: number;
  /** Readings older than maxAgeMs behind the newest, not kept. */
  tooOld: number;
  evictedDevices: number;
}

/** Distinct sets of status tokens, each stored once; id 0 is "no status", 1 "…": a new set past the limit. */
class StatusSets {
  readonly #ids = new Map<string, number>();
  #sets: (readonly string[])[] = [[], [OVERFLOW_TOKEN]];

  constructor(private readonly limit: number) {}

  idOf(tokens: readonly string[] | undefined): number {
    if (!tokens) return 0;
    const asSent = tokens.join('\n');
    const known = this.#ids.get(asSent);
    if (known !== undefined) return known;
    const set = [...new Set(tokens)].sort();
    const id = this.#intern(set);
    // Also under the order as sent: the next reading of this device spells it the same way.
    if (this.#ids.size < 2 * this.limit) this.#ids.set(asSent, id);
    return id;
  }

  union(a: number, b: number): number {
    if (a === b || b === 0) return a;
    if (a === 0) return b;
    return this.#intern([...new Set([...this.#sets[a]!, ...this.#sets[b]!])].sort());
  }

  tokens(id: number): readonly string[] {
    return this.#sets[id] ?? this.#sets[1]!;
  }

  all(): readonly (readonly string[])[] {
    return this.#sets;
  }

  restore(sets: readonly (readonly string[])[]): void {
    this.#ids.clear();
    this.#sets = [[], [OVERFLOW_TOKEN]];
    for (let id = 2; id < sets.length; id++) {
      this.#sets.push(sets[id]!);
      this.#ids.set(sets[id]!.join('\n'), id);
    }
  }

  #intern(sorted: readonly string[]): number {
    const key = sorted.join('\n');
    let id = this.#ids.get(key);
    if (id !== undefined) return id;
    if (this.#sets.length >= this.limit) return 1;
    id = this.#sets.length;
    this.#sets.push(sorted);
    this.#ids.set(key, id);
    return id;
  }
}

/** A slot's place in [0, 1), evenly spread over consecutive slots (Fibonacci hashing); slot 0 is 0. */
function staggerOf(slot: number): number {
  return (Math.imul(slot, 0x9e3779b1) >>> 0) / 2 ** 32;
}

/** The values of the reading being added, in its layout's field order (one buffer, reused). */
const scratch = new Float64Array(16);

export class HistoryStore {
  /** Device id → slot; a slot's id and array are in #ids and #data ('' and FREE when free). */
  readonly #slotOf = new Map<string, number>();
  readonly #ids: string[] = [];
  readonly #data: number[][] = [];
  readonly #freeSlots: number[] = [];
  /**
   * Per gateway, the slot each position of its last batch went to (-1: not known). A cache, not
   * counted in `bytes`: 4 bytes a position, cleared by every sweep().
   */
  readonly #routes = new Map<string, Int32Array>();
  readonly #templates = new Map<number, number[]>();
  readonly #status: StatusSets;
  readonly #options: HistoryStoreOptions;
  #bytes = 0;
  #points = 0;
  #strideSum = 0;
  #newestMs = -Infinity;
  #limit: number;
  #readings = 0;
  #tooOld = 0;
  #evicted = 0;

  constructor(options: HistoryStoreOptions) {
    this.#options = options;
    this.#status = new StatusSets(options.statusSetLimit);
    this.#limit = options.maxPointsPerDevice;
  }

  /**
   * Adds readings in any order; a reading delivered again merges into its own point and changes
   * nothing. A batch is expected to be one gateway's (as the bus delivers them): its positions
   * are remembered to find the devices of its next batch.
   */
  append(readings: readonly Reading[]): void {
    const n = readings.length;
    if (n === 0) return;
    const gatewayId = readings[0]!.gatewayId;
    let route = this.#routes.get(gatewayId);
    if (route === undefined || route.length !== n) {
      route = new Int32Array(n).fill(-1);
      this.#routes.set(gatewayId, route);
    }
    const ids = this.#ids;
    for (let i = 0; i < n; i++) {
      const reading = readings[i]!;
      let slot = route[i]!;
      if (slot < 0 || ids[slot] !== reading.deviceId) slot = this.#slotOf.get(reading.deviceId) ?? -1;
      route[i] = this.#add(reading, slot);
    }
  }

  add(reading: Reading): void {
    this.#add(reading, this.#slotOf.get(reading.deviceId) ?? -1);
  }

  /** Adds a reading to the device in `slot` (-1: none yet); returns the device's slot, -1 when not kept. */
  #add(reading: Reading, slot: number): number {
    const t = reading.atMs;
    if (!Number.isFinite(t)) return slot;
    this.#readings++;
    if (t > this.#newestMs) this.#newestMs = t;
    if (t < this.#newestMs - this.#options.maxAgeMs) {
      this.#tooOld++;
      return slot;
    }
    const code = KIND_CODE[reading.kind];
    if (code === undefined) return slot;
    const layout = LAYOUTS[code]!;
    let data = slot >= 0 ? this.#data[slot]! : FREE;
    if (data[0] !== code) {
      if (slot >= 0) this.#drop(slot);
      slot = this.#allocate(reading.deviceId, layout, FIRST_CAPACITY);
      data = this.#data[slot]!;
    }
    const stride = layout.stride;
    const width = layout.fields.length;
    layout.extract(reading, scratch);
    const status = this.#status.idOf(statusTokens(reading));

    let count = data[1]!;
    // Where it goes: after every point not later than it (usually the end: readings come in order).
    let at = count > 0 && data[HEADER + (count - 1) * stride]! > t ? this.#upperBound(data, stride, count, t) : count;
    if (at > 0 && this.#sameBucket(data[HEADER + (at - 1) * stride]!, t)) {
      this.#mergeReading(data, layout, at - 1, t, status);
      return slot;
    }
    if (count * stride + HEADER >= data.length) {
      data = this.#makeRoom(slot, data, layout);
      count = data[1]!;
      // Compaction may have merged or dropped points before it: find its place again.
      at = this.#upperBound(data, stride, count, t);
      const prev = at - 1;
      if (prev >= 0 && this.#sameBucket(data[HEADER + prev * stride]!, t)) {
        this.#mergeReading(data, layout, prev, t, status);
        return slot;
      }
    }
    const base = HEADER + at * stride;
    if (at < count) data.copyWithin(base + stride, base, HEADER + count * stride);
    data[base] = t;
    data[base + 1] = status;
    for (let i = 0; i < width; i++) data[base + 2 + i] = scratch[i]!;
    data[1] = count + 1;
    this.#points++;
    return slot;
  }

  /** The device's array, or undefined when the store has none. */
  #arrayOf(deviceId: string): number[] | undefined {
    const slot = this.#slotOf.get(deviceId);
    return slot === undefined ? undefined : this.#data[slot];
  }

  kindOf(deviceId: string): DeviceKind | undefined {
    const data = this.#arrayOf(deviceId);
    return data === undefined ? undefined : LAYOUTS[data[0]!]!.kind;
  }

  /**
   * The device's points in [fromMs, toMs], oldest first; more than `limit` are merged into
   * epoch-aligned buckets (bucketMsFor) by the same rules, each at its bucket's start.
   */
  query(deviceId: string, fromMs: number, toMs: number, limit: number): HistoryAnswer | undefined {
    const data = this.#arrayOf(deviceId);
    if (data === undefined) return undefined;
    const layout = LAYOUTS[data[0]!]!;
    const { fields, stride } = layout;
    const count = data[1]!;
    const lo = this.#lowerBound(data, stride, count, fromMs);
    const hi = this.#upperBound(data, stride, count, toMs);
    const points: HistoryPoint[] = [];
    if (hi - lo <= limit) {
      for (let r = lo; r < hi; r++) points.push(this.#point(data, layout, HEADER + r * stride, data[HEADER + r * stride]!, data[HEADER + r * stride + 1]!));
      return { source: 'local', bucketMs: null, points };
    }
    const bucketMs = bucketMsFor(fromMs, toMs, limit);
    const acc = new Float64Array(fields.length);
    let bucket = NaN;
    let status = 0;
    const flush = () => {
      const values: HistoryPoint['values'] = {};
      for (let i = 0; i < fields.length; i++) if (!Number.isNaN(acc[i]!)) values[fields[i]!] = acc[i]!;
      points.push(status === 0 ? { atMs: bucket * bucketMs, values } : { atMs: bucket * bucketMs, values, status: this.#status.tokens(status) });
    };
    for (let r = lo; r < hi; r++) {
      const base = HEADER + r * stride;
      const b = Math.floor(data[base]! / bucketMs);
      if (b !== bucket) {
        if (!Number.isNaN(bucket)) flush();
        bucket = b;
        status = 0;
        acc.fill(NaN);
      }
      for (let i = 0; i < fields.length; i++) acc[i] = mergeValue(fields[i]!, acc[i]!, data[base + 2 + i]!, true);
      status = this.#status.union(status, data[base + 1]!);
    }
    flush();
    return { source: 'local', bucketMs, points };
  }

  stats(): HistoryStoreStats {
    return {
      devices: this.#slotOf.size,
      points: this.#points,
      bytes: this.#bytes,
      pointsPerDeviceLimit: this.#limit,
      readings: this.#readings,
      tooOld: this.#tooOld,
      evictedDevices: this.#evicted,
    };
  }

  /**
   * Drops devices silent for longer than maxAgeMs (device time) and their points past it, and
   * compacts devices holding more than the current share; in slices of `sliceMs` with other work
   * let in between. Also lets the share grow again once the total is well under maxBytes.
   */
  async sweep(sliceMs = 4): Promise<void> {
    if (this.#bytes < 0.75 * this.#options.maxBytes && this.#limit < this.#options.maxPointsPerDevice) {
      this.#limit = Math.min(this.#options.maxPointsPerDevice, Math.ceil(this.#limit * 1.25));
    }
    // Remembered batches of gateways gone quiet would only take room; the live ones are relearnt in one batch.
    this.#routes.clear();
    let sliceStart = performance.now();
    // Slots taken while this gives way are after its end or were free when passed: seen next time.
    for (let slot = 0; slot < this.#data.length; slot++) {
      const data = this.#data[slot]!;
      if (data === FREE) continue;
      const layout = LAYOUTS[data[0]!]!;
      const count = data[1]!;
      const cutoff = this.#newestMs - this.#options.maxAgeMs;
      if (count === 0 || data[HEADER + (count - 1) * layout.stride]! < cutoff) {
        this.#drop(slot);
        this.#evicted++;
      } else if (data[HEADER]! < cutoff || this.#capacity(data, layout) > this.#limit) {
        this.#compact(data, layout);
        if (this.#capacity(data, layout) > this.#limit) this.#shrink(slot, data, layout, this.#limit);
      }
      if (performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
  }

  // --- persistence (history-file.ts) -------------------------------------------------------------

  /** Each device's array as stored (read only): `[kind, count, (time, status, ...values) × capacity]`. */
  *devices(): IterableIterator<[string, readonly number[]]> {
    for (let slot = 0; slot < this.#data.length; slot++) {
      const data = this.#data[slot]!;
      if (data !== FREE) yield [this.#ids[slot]!, data];
    }
  }

  /** Numbers per point of a kind (by its code); 0 for a code no kind has. */
  strideOf(kindCode: number): number {
    return LAYOUTS[kindCode]?.stride ?? 0;
  }

  statusSets(): readonly (readonly string[])[] {
    return this.#status.all();
  }

  restoreStatusSets(sets: readonly (readonly string[])[]): void {
    this.#status.restore(sets);
  }

  /** Puts back one device as saved: `records` holds count × stride numbers, oldest first. */
  restoreDevice(deviceId: string, kindCode: number, records: ArrayLike<number>): void {
    const layout = LAYOUTS[kindCode];
    if (!layout || records.length % layout.stride !== 0) return;
    const count = records.length / layout.stride;
    const old = this.#slotOf.get(deviceId);
    if (old !== undefined) this.#drop(old);
    let capacity = FIRST_CAPACITY;
    while (capacity < count && capacity < this.#options.maxPointsPerDevice) capacity *= 2;
    const slot = this.#allocate(deviceId, layout, Math.max(capacity, count));
    const data = this.#data[slot]!;
    for (let i = 0; i < records.length; i++) data[HEADER + i] = records[i]!;
    data[1] = count;
    this.#points += count;
    if (count > 0) this.#newestMs = Math.max(this.#newestMs, records[(count - 1) * layout.stride]!);
    if (count > this.#options.maxPointsPerDevice) this.#shrink(slot, data, layout, this.#options.maxPointsPerDevice);
  }

  // --- inside ------------------------------------------------------------------------------------

  #capacity(data: readonly number[], layout: Layout): number {
    return (data.length - HEADER) / layout.stride;
  }

  #sameBucket(a: number, b: number): boolean {
    const resolutionMs = this.#options.tiers[0]!.resolutionMs;
    return Math.floor(a / resolutionMs) === Math.floor(b / resolutionMs);
  }

  /** First point at or after `t`. */
  #lowerBound(data: readonly number[], stride: number, count: number, t: number): number {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (data[HEADER + mid * stride]! < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First point after `t`. */
  #upperBound(data: readonly number[], stride: number, count: number, t: number): number {
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (data[HEADER + mid * stride]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #point(data: readonly number[], layout: Layout, base: number, atMs: number, status: number): HistoryPoint {
    const values: HistoryPoint['values'] = {};
    for (let i = 0; i < layout.fields.length; i++) {
      const v = data[base + 2 + i]!;
      if (!Number.isNaN(v)) values[layout.fields[i]!] = v;
    }
    return status === 0 ? { atMs, values } : { atMs, values, status: this.#status.tokens(status) };
  }

  /** Merges the reading in `scratch` into point `r`. */
  #mergeReading(data: number[], layout: Layout, r: number, t: number, status: number): void {
    const base = HEADER + r * layout.stride;
    const newer = t >= data[base]!;
    for (let i = 0; i < layout.fields.length; i++) data[base + 2 + i] = mergeValue(layout.fields[i]!, data[base + 2 + i]!, scratch[i]!, newer);
    data[base + 1] = this.#status.union(data[base + 1]!, status);
    if (newer) data[base] = t;
  }

  /** Merges point `src` into point `dst`. */
  #mergePoints(data: number[], layout: Layout, dst: number, src: number): void {
    const d = HEADER + dst * layout.stride;
    const s = HEADER + src * layout.stride;
    const newer = data[s]! >= data[d]!;
    for (let i = 0; i < layout.fields.length; i++) data[d + 2 + i] = mergeValue(layout.fields[i]!, data[d + 2 + i]!, data[s + 2 + i]!, newer);
    data[d + 1] = this.#status.union(data[d + 1]!, data[s + 1]!);
    if (newer) data[d] = data[s]!;
  }

  #copyPoint(data: number[], stride: number, dst: number, src: number): void {
    if (dst !== src) data.copyWithin(HEADER + dst * stride, HEADER + src * stride, HEADER + (src + 1) * stride);
  }

  /**
   * Drops points past maxAgeMs and merges the rest by the tiers: points of one tier within one
   * epoch-aligned bucket of its resolution become one.
   */
  #compact(data: number[], layout: Layout): void {
    const { stride } = layout;
    const { tiers, maxAgeMs } = this.#options;
    const count = data[1]!;
    let w = -1;
    let wTier = -1;
    let wBucket = NaN;
    for (let r = 0; r < count; r++) {
      const t = data[HEADER + r * stride]!;
      const age = this.#newestMs - t;
      if (age > maxAgeMs) continue;
      let tier = 0;
      while (tier < tiers.length - 1 && age >= tiers[tier]!.upToAgeMs) tier++;
      const bucket = Math.floor(t / tiers[tier]!.resolutionMs);
      if (w >= 0 && tier === wTier && bucket === wBucket) {
        this.#mergePoints(data, layout, w, r);
      } else {
        w++;
        this.#copyPoint(data, stride, w, r);
        wTier = tier;
        wBucket = bucket;
      }
    }
    data[1] = w + 1;
    this.#points -= count - (w + 1);
  }

  /** Merges the oldest points pairwise until at most `target` remain. */
  #squeeze(data: number[], layout: Layout, target: number): void {
    const { stride } = layout;
    const count = data[1]!;
    const m = count - target;
    if (m <= 0) return;
    for (let i = 0; i < m; i++) {
      this.#copyPoint(data, stride, i, 2 * i);
      this.#mergePoints(data, layout, i, 2 * i + 1);
    }
    data.copyWithin(HEADER + m * stride, HEADER + 2 * m * stride, HEADER + count * stride);
    data[1] = count - m;
    this.#points -= m;
  }

  /** A full device: compact by age and tiers; if a quarter is still not free, grow within the bounds, else squeeze. */
  #makeRoom(slot: number, data: number[], layout: Layout): number[] {
    this.#compact(data, layout);
    const capacity = this.#capacity(data, layout);
    const target = Math.floor((capacity * 3) / 4);
    const count = data[1]!;
    if (count <= target) return data;
    const spanMs = data[HEADER + (count - 1) * layout.stride]! - data[HEADER]!;
    const dense = spanMs < 2 * count * this.#options.tiers[0]!.resolutionMs;
    const wanted = dense ? Math.max(capacity + 1, Math.floor(capacity * DENSE_GROWTH * (1 - GROWTH_STAGGER * staggerOf(slot)))) : capacity * 2;
    const grown = Math.min(wanted, this.#options.maxPointsPerDevice, this.#limit);
    if (grown > capacity) {
      if (this.#bytes + (grown - capacity) * layout.stride * 8 <= this.#options.maxBytes) return this.#resize(slot, data, layout, grown);
      this.#tighten();
    }
    this.#squeeze(data, layout, target);
    return data;
  }

  /** The total is at maxBytes: from now on each device may hold an equal share of what is left for points. */
  #tighten(): void {
    const devices = this.#slotOf.size;
    const forPoints = this.#options.maxBytes - devices * (DEVICE_OVERHEAD_BYTES + HEADER * 8);
    const share = Math.floor(forPoints / ((this.#strideSum / devices) * 8) / devices);
    this.#limit = Math.max(FIRST_CAPACITY, Math.min(this.#limit, share));
  }

  #shrink(slot: number, data: number[], layout: Layout, capacity: number): void {
    this.#squeeze(data, layout, Math.floor((capacity * 3) / 4));
    this.#resize(slot, data, layout, capacity);
  }

  /**
   * A new array of exactly `length` numbers, all NaN: a copy of a template, which V8 makes with one
   * allocation of unboxed doubles and no growth slack (filling `new Array(n)` would allocate twice).
   */
  #blank(length: number): number[] {
    let template = this.#templates.get(length);
    if (template === undefined) {
      template = Array.from({ length }, () => NaN);
      // Lengths follow the capacities in use: a handful, unless the share moves a lot.
      if (this.#templates.size < 64) this.#templates.set(length, template);
    }
    return template.slice();
  }

  /** The device's points in a new array of exactly `capacity` points. */
  #resize(slot: number, data: number[], layout: Layout, capacity: number): number[] {
    const length = HEADER + capacity * layout.stride;
    const next = this.#blank(length);
    const used = HEADER + data[1]! * layout.stride;
    for (let i = 0; i < used; i++) next[i] = data[i]!;
    this.#bytes += (length - data.length) * 8;
    this.#data[slot] = next;
    return next;
  }

  /** A new device with room for `capacity` points; returns its slot. */
  #allocate(deviceId: string, layout: Layout, capacity: number): number {
    const data = this.#blank(HEADER + capacity * layout.stride);
    data[0] = KIND_CODE[layout.kind];
    data[1] = 0;
    const slot = this.#freeSlots.pop() ?? this.#data.length;
    this.#ids[slot] = deviceId;
    this.#data[slot] = data;
    this.#slotOf.set(deviceId, slot);
    this.#bytes += DEVICE_OVERHEAD_BYTES + data.length * 8;
    this.#strideSum += layout.stride;
    return slot;
  }

  #drop(slot: number): void {
    const data = this.#data[slot]!;
    this.#slotOf.delete(this.#ids[slot]!);
    // '' is no device's id (ids are 1–64 characters), so a remembered batch position never matches a free slot.
    this.#ids[slot] = '';
    this.#data[slot] = FREE;
    this.#freeSlots.push(slot);
    this.#bytes -= DEVICE_OVERHEAD_BYTES + data.length * 8;
    this.#points -= data[1]!;
    this.#strideSum -= LAYOUTS[data[0]!]!.stride;
  }
}
