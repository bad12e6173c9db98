/**
 * A city of devices derived from (seed, index) alone: any process can name, place and judge any
 * device without building the other million. Kinds follow `KIND_MIX` in blocks of 50 devices,
 * each block shuffled by the seed; devices are dealt round-robin over the gateways like
 * `createFleet`, and ids are in its style (`HM-00000001`, `GW-000001`).
 */
import type { DeviceRecord } from '../../contracts/device-record.ts';
import type { DeviceKind } from '../../contracts/messages.ts';
import { KIND_MIX, KIND_PREFIX, mulberry32 } from '../fleet.ts';
import { FAULTS_BY_KIND, type FaultName } from './faults.ts';

/** Devices per layout block: the kind mix is exact in every block of this many. */
export const BLOCK = 50;

const KINDS = Object.keys(KIND_MIX) as DeviceKind[];
const PER_BLOCK = KINDS.map((k) => Math.round(KIND_MIX[k] * BLOCK));
if (PER_BLOCK.reduce((a, b) => a + b, 0) !== BLOCK) throw new Error(`KIND_MIX does not divide into blocks of ${BLOCK}`);
/** Pattern position → kind number; the first position of each kind. */
const PATTERN: number[] = [];
const FIRST_POS: number[] = [];
PER_BLOCK.forEach((n, k) => {
  FIRST_POS.push(PATTERN.length);
  for (let j = 0; j < n; j++) PATTERN.push(k);
});

/** What each part of a device's derivation hashes with, so that none shifts another. */
export const SALT = { layout: 1, link: 2, fault: 3, faultType: 4, phase: 5, value: 6, retry: 7, upload: 8, poll: 9 } as const;

/** murmur3's finaliser: a well-mixed 32-bit integer. */
function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of up to four integers (each taken modulo 2³²). */
export function hash32(seed: number, a: number, b = 0, c = 0): number {
  let h = fmix((seed ^ 0x9e3779b9) >>> 0);
  h = fmix((h ^ a) >>> 0);
  h = fmix((h ^ Math.imul(b, 0x27d4eb2f)) >>> 0);
  return fmix((h ^ Math.imul(c, 0x165667b1)) >>> 0);
}

/** The same hash as a number uniform in [0, 1). */
export function hash01(seed: number, a: number, b = 0, c = 0): number {
  return hash32(seed, a, b, c) / 4294967296;
}

export interface CityOptions {
  /** Devices ("meters" in the utility's sense: every connection point), `meters ≥ gateways`. */
  meters: number;
  /** Field gateways, `GW-000001`…. */
  gateways: number;
  seed: number;
  /** Share of devices with a fault, 0…1. */
  faultShare: number;
  /** Household meters report hourly instead of daily. */
  hourlyMeters: boolean;
}

export const DEFAULT_FAULT_SHARE = 0.001;

export function validateCityOptions(o: CityOptions): void {
  const { meters, gateways, seed, faultShare } = o;
  if (!Number.isInteger(gateways) || gateways < 1 || gateways > 999_999) throw new RangeError(`gateways must be an integer from 1 to 999999, got ${gateways}`);
  if (!Number.isInteger(meters) || meters < gateways || meters > 99_999_999) throw new RangeError(`meters must be an integer from the gateway count (${gateways}) to 99999999, got ${meters}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  if (!(faultShare >= 0 && faultShare <= 1)) throw new RangeError(`faultShare must be from 0 to 1, got ${faultShare}`);
}

/** Expected reporting interval per kind, s: what the registry says and the schedule follows. */
export function reportIntervalS(kind: DeviceKind, hourlyMeters: boolean): number {
  switch (kind) {
    case 'household_meter':
      return hourlyMeters ? 3_600 : 86_400;
    case 'industrial_controller':
    case 'flow_meter':
      return 3_600;
    case 'home_gas_alarm':
    case 'alarm_controller':
      return 30;
  }
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export function gatewayIdOf(g: number): string {
  return `GW-${pad(g + 1, 6)}`;
}

/** Household meters from Qianfeng (4.5 V) and Meihua (3.6 V), two to three as in the fleet. */
export function vendorOf(kind: DeviceKind, serial: number): string | undefined {
  if (kind === 'household_meter') return serial % 5 === 2 || serial % 5 === 4 ? 'qianfeng' : 'meihua';
  return kind === 'industrial_controller' ? 'meihua' : undefined;
}

/** Fisher–Yates over the pattern positions, from the block's own seed. */
function blockPermutation(seed: number, block: number): Uint8Array {
  const perm = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) perm[i] = i;
  const rnd = mulberry32(hash32(seed, SALT.layout, block));
  for (let i = BLOCK - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

/** The city: every fact about device `i` (0-based) computed on demand, cheaply. */
export class City {
  readonly options: Readonly<CityOptions>;
  /** Every block's permutation (slot → pattern position) and its inverse, filled on first use: 1 MB per million devices. */
  readonly #perm: Uint8Array;
  readonly #inverse: Uint8Array;
  readonly #filled: Uint8Array;

  constructor(options: CityOptions) {
    validateCityOptions(options);
    this.options = Object.freeze({ ...options });
    const blocks = Math.ceil(options.meters / BLOCK);
    this.#perm = new Uint8Array(blocks * BLOCK);
    this.#inverse = new Uint8Array(blocks * BLOCK);
    this.#filled = new Uint8Array(blocks);
  }

  get meters(): number {
    return this.options.meters;
  }

  get gateways(): number {
    return this.options.gateways;
  }

  #fill(block: number): void {
    if (this.#filled[block]) return;
    const perm = blockPermutation(this.options.seed, block);
    const at = block * BLOCK;
    for (let s = 0; s < BLOCK; s++) {
      this.#perm[at + s] = perm[s]!;
      this.#inverse[at + perm[s]!] = s;
    }
    this.#filled[block] = 1;
  }

  #position(i: number): number {
    this.#fill(Math.floor(i / BLOCK));
    return this.#perm[i]!;
  }

  kindOf(i: number): DeviceKind {
    return KINDS[PATTERN[this.#position(i)]!]!;
  }

  /** Number within the kind, from 1: what the id shows. */
  serialOf(i: number): number {
    const pos = this.#position(i);
    const k = PATTERN[pos]!;
    return Math.floor(i / BLOCK) * PER_BLOCK[k]! + (pos - FIRST_POS[k]!) + 1;
  }

  deviceId(i: number): string {
    const pos = this.#position(i);
    const k = PATTERN[pos]!;
    const serial = Math.floor(i / BLOCK) * PER_BLOCK[k]! + (pos - FIRST_POS[k]!) + 1;
    return `${KIND_PREFIX[KINDS[k]!]}-${pad(serial, 8)}`;
  }

  /** The index of a device id, or -1 when it is not in this city. */
  indexOf(deviceId: string): number {
    const m = /^([A-Z]{2})-(\d{8})$/.exec(deviceId);
    if (!m) return -1;
    const k = KINDS.findIndex((kind) => KIND_PREFIX[kind] === m[1]);
    if (k < 0) return -1;
    const serial = Number(m[2]) - 1;
    const block = Math.floor(serial / PER_BLOCK[k]!);
    const pos = FIRST_POS[k]! + (serial % PER_BLOCK[k]!);
    if (block >= this.#filled.length) return -1;
    this.#fill(block);
    const i = block * BLOCK + this.#inverse[block * BLOCK + pos]!;
    return i < this.meters ? i : -1;
  }

  gatewayOf(i: number): number {
    return i % this.gateways;
  }

  /** Devices of gateway `g`, in the order the gateway polls them. */
  *devicesOf(g: number): IterableIterator<number> {
    for (let i = g; i < this.meters; i += this.gateways) yield i;
  }

  devicesOnGateway(g: number): number {
    return Math.ceil((this.meters - g) / this.gateways);
  }

  /**
   * A home alarm whose shut-off valve is the household meter polled just before it on the same
   * gateway (half of those that have one): index of that meter, or -1. Its readings carry no valve.
   */
  valveOf(i: number): number {
    const m = i - this.gateways;
    if (m < 0 || this.kindOf(i) !== 'home_gas_alarm' || this.kindOf(m) !== 'household_meter') return -1;
    return hash01(this.options.seed, SALT.link, i) < 0.5 ? m : -1;
  }

  /** Whether a household meter's valve is some home alarm's shut-off valve. */
  isLinkedValve(i: number): boolean {
    const a = i + this.gateways;
    return a < this.meters && this.valveOf(a) === i;
  }

  /** The device's fault, fixed for the whole run, or undefined for a healthy device. */
  faultOf(i: number): FaultName | undefined {
    const { seed, faultShare } = this.options;
    if (!(hash01(seed, SALT.fault, i) < faultShare)) return undefined;
    const kind = this.kindOf(i);
    const linked = kind === 'home_gas_alarm' && this.valveOf(i) >= 0;
    // A linked meter's valve must stay open, or its alarm's VALVE_NOT_CUT would not hold.
    const valve = kind === 'household_meter' && this.isLinkedValve(i);
    const choices = FAULTS_BY_KIND[kind].filter((f) => f.linked === undefined || f.linked === linked).filter((f) => !(valve && f.closesValve));
    return choices[Math.floor(hash01(seed, SALT.faultType, i) * choices.length)]!.name;
  }

  reportIntervalS(kind: DeviceKind): number {
    return reportIntervalS(kind, this.options.hourlyMeters);
  }

  /** The lean registry record the pipeline needs for this device. */
  record(i: number): DeviceRecord {
    const kind = this.kindOf(i);
    const record: DeviceRecord = { deviceId: this.deviceId(i), kind, gatewayId: gatewayIdOf(this.gatewayOf(i)), reportIntervalS: this.reportIntervalS(kind) };
    const valve = this.valveOf(i);
    if (valve >= 0) record.valveId = this.deviceId(valve);
    return record;
  }
}

/** Gateways `[from, to)` of shard `p` out of `count`: contiguous, sizes differing by at most one. */
export function shardGateways(gateways: number, p: number, count: number): { from: number; to: number } {
  if (!Number.isInteger(count) || count < 1 || count > gateways) throw new RangeError(`shards must be from 1 to the gateway count (${gateways}), got ${count}`);
  return { from: Math.floor((p * gateways) / count), to: Math.floor(((p + 1) * gateways) / count) };
}
