import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static } from '@sinclair/typebox';
import uplinkSchema from '../contracts/uplink-v1.schema.json' with { type: 'json' };
import { DEVICE_KINDS, type DeadLetter, type DeviceKind, type GatewayStatus, type Reading, type RejectReason } from '../contracts/messages.ts';
import { MAX_JSON_DEPTH, escapeUnsafe, jsonProblem, type JsonBounds, type JsonProblem } from '../contracts/safe-json.ts';
import { DateTimeFormat } from './rfc3339.ts';

export const DecoderOptionsSchema = Type.Object({
  maxPayloadBytes: Type.Integer({ default: 2 * 1024 * 1024, minimum: 1024, description: 'largest uplink payload accepted, bytes' }),
  maxFutureSkewMs: Type.Integer({ default: 60 * 60 * 1000, minimum: 0, description: 'how far ahead of the pipeline clock a reading may be stamped, ms' }),
  maxAgeMs: Type.Integer({ default: 30 * 86_400_000, minimum: 0, description: 'how old a reading may be when it arrives (gateways buffer through outages), ms' }),
  maxSeqJump: Type.Integer({ default: 100_000, minimum: 1, description: 'how far a batch seq may jump ahead of its gateway\'s highest and still be believed; a larger jump is judged but moves no high-water mark until a second batch confirms it' }),
  deadLetterPayloadChars: Type.Integer({ default: 2048, minimum: 64, description: 'how much of a rejected payload the dead-letter log keeps, characters' }),
  maxDepth: Type.Integer({ default: 16, minimum: 8, maximum: MAX_JSON_DEPTH, description: 'deepest nesting of objects and arrays in an uplink message (the batch is level 1, a reading level 3); a reading nested deeper is refused alone as too_deep' }),
  maxStringChars: Type.Integer({ default: 1024, minimum: 64, description: 'longest string (or key) in an uplink message where the schema sets no shorter bound, characters' }),
});
export type DecoderOptions = Static<typeof DecoderOptionsSchema>;

export interface DecodedBatch {
  gatewayId: string;
  seq: number;
  /** When the gateway sent the batch, epoch ms: a redelivery repeats it, a restarted counter does not. */
  sentAtMs: number;
  readings: Reading[];
}

/** The outcome of one uplink message: good readings go on, each bad part is a dead letter with its reason. */
export interface UplinkResult {
  batch?: DecodedBatch;
  status?: GatewayStatus;
  rejects: DeadLetter[];
}

const TOPIC = /^gas\/v1\/([A-Za-z0-9_.-]{1,64})\/(up|status)$/;
const ID = /^[A-Za-z0-9_.-]{1,64}$/;
const KINDS = new Set<string>(DEVICE_KINDS);
/** A reading sits at batch → readings → reading. */
const READING_DEPTH = 2;

/** The edge's text and depth rules as a reject reason; an over-long string is a bad reading like any other out-of-range field. */
const PROBLEM_REASON: Record<JsonProblem['code'], RejectReason> = { too_deep: 'too_deep', unsafe_text: 'unsafe_text', too_long: 'bad_reading' };

function describe(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the v1 schema';
  // The deepest error names the field; Ajv's if/then wrappers only repeat it.
  const e = errors.find((x) => x.keyword !== 'if' && x.keyword !== 'allOf') ?? errors[0]!;
  const where = e.instancePath === '' ? 'message' : e.instancePath;
  const extra = e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : '';
  return `${where} ${e.message ?? 'is invalid'}${extra}`;
}

/** Where a problem is, for the reject message: '' for the value itself. */
function where(problem: JsonProblem): string {
  return problem.path === '' ? 'message' : problem.path;
}

/** A reading too deep to serialize, for its dead letter: its top-level fields, nested ones elided. */
function shallow(reading: unknown): unknown {
  if (reading === null || typeof reading !== 'object') return reading;
  if (Array.isArray(reading)) return ['…'];
  return Object.fromEntries(Object.entries(reading).map(([k, v]) => [k, v !== null && typeof v === 'object' ? '…' : v]));
}

/**
 * Decodes MQTT uplink messages against the v1 JSON Schema kept in `contracts/`. The schema is
 * compiled once here; per message the work is one JSON.parse, one envelope check and one
 * compiled check per reading. A bad reading is rejected alone and the rest of its batch goes on.
 * Before any of that recurses into a value, one iterative walk applies the edge's depth and text
 * rules (contracts/safe-json.ts): a reading nested too deep (`too_deep`) or holding NUL, a lone
 * surrogate or a control character (`unsafe_text`) is refused alone like any other bad reading.
 */
/**
 * `null` in an optional field means "not reported", as many gateways send it: the field is
 * dropped before validation, so `"status": null` on one channel no longer rejects the whole
 * reading with its 55 %LEL beside it. A detector channel's `lelPct: null` keeps its meaning (the
 * controller shows --F: the detector is offline). A required field sent as null is then missing,
 * and the reading is refused saying so.
 */
function dropNotReported(reading: Record<string, unknown>): void {
  for (const key in reading) if (reading[key] === null) delete reading[key];
  const channels = reading.detectors;
  if (!Array.isArray(channels)) return;
  for (const channel of channels) {
    if (channel === null || typeof channel !== 'object') continue;
    const c = channel as Record<string, unknown>;
    for (const key in c) if (c[key] === null && key !== 'lelPct') delete c[key];
  }
}

export class UplinkDecoder {
  readonly #options: DecoderOptions;
  readonly #envelope: ValidateFunction;
  readonly #status: ValidateFunction;
  readonly #readingByKind: Record<DeviceKind, ValidateFunction>;
  readonly #dateTime = new DateTimeFormat();
  readonly #bounds: JsonBounds;

  constructor(options: DecoderOptions) {
    this.#options = options;
    this.#bounds = { maxDepth: options.maxDepth, maxStringChars: options.maxStringChars };
    const ajv = new Ajv({ allErrors: false, strict: false });
    ajv.addFormat('date-time', { type: 'string', validate: this.#dateTime.validate });
    ajv.addSchema(uplinkSchema, 'v1');
    const get = (name: string): ValidateFunction => ajv.getSchema(`v1#/definitions/${name}`)!;
    this.#envelope = get('batchEnvelope');
    this.#status = get('gatewayStatus');
    this.#readingByKind = Object.fromEntries(DEVICE_KINDS.map((k) => [k, get(k)])) as Record<DeviceKind, ValidateFunction>;
  }

  decode(topic: string, payload: Buffer, receivedAtMs: number): UplinkResult {
    const match = TOPIC.exec(topic);
    if (!match) return this.#reject('bad_topic', `topic ${JSON.stringify(topic)} is not gas/v1/{gatewayId}/up|status`, topic, payload, receivedAtMs);
    const topicGatewayId = match[1]!;
    if (payload.length > this.#options.maxPayloadBytes) {
      return this.#reject('oversize', `payload of ${payload.length} bytes is over the ${this.#options.maxPayloadBytes}-byte limit`, topic, payload, receivedAtMs, topicGatewayId);
    }
    let body: unknown;
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch (err) {
      return this.#reject('not_json', `payload is not JSON: ${(err as Error).message}`, topic, payload, receivedAtMs, topicGatewayId);
    }
    return match[2] === 'status'
      ? this.#decodeStatus(topic, topicGatewayId, body, payload, receivedAtMs)
      : this.#decodeBatch(topic, topicGatewayId, body, payload, receivedAtMs);
  }

  #decodeStatus(topic: string, gatewayId: string, body: unknown, payload: Buffer, receivedAtMs: number): UplinkResult {
    const problem = jsonProblem(body, this.#bounds);
    if (problem) return this.#reject(PROBLEM_REASON[problem.code], `status ${where(problem)} ${problem.message}`, topic, payload, receivedAtMs, gatewayId);
    if (!this.#status(body)) return this.#reject('bad_shape', `status ${describe(this.#status.errors)}`, topic, payload, receivedAtMs, gatewayId);
    return { status: { gatewayId, online: (body as { online: boolean }).online, receivedAtMs }, rejects: [] };
  }

  #decodeBatch(topic: string, topicGatewayId: string, body: unknown, payload: Buffer, receivedAtMs: number): UplinkResult {
    // The envelope is checked here without its readings, which are checked one by one below.
    const outside = body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...body, readings: [] } : body;
    const problem = jsonProblem(outside, this.#bounds);
    if (problem) return this.#reject(PROBLEM_REASON[problem.code], `batch ${where(problem)} ${problem.message}`, topic, payload, receivedAtMs, topicGatewayId);
    if (!this.#envelope(body)) {
      const errors = this.#envelope.errors;
      const tooMany = errors?.some((e) => e.instancePath === '/readings' && e.keyword === 'maxItems');
      return tooMany
        ? this.#reject('too_many_readings', `batch holds ${(body as { readings: unknown[] }).readings.length} readings, more than 5000`, topic, payload, receivedAtMs, topicGatewayId)
        : this.#reject('bad_shape', `batch ${describe(errors)}`, topic, payload, receivedAtMs, topicGatewayId);
    }
    const batch = body as { gatewayId: string; seq: number; sentAt: string; readings: unknown[] };
    if (batch.gatewayId !== topicGatewayId) {
      return this.#reject('gateway_mismatch', `body gatewayId ${batch.gatewayId} does not match topic gateway ${topicGatewayId}`, topic, payload, receivedAtMs, topicGatewayId);
    }

    const readings: Reading[] = [];
    const rejects: DeadLetter[] = [];
    const earliest = receivedAtMs - this.#options.maxAgeMs;
    const latest = receivedAtMs + this.#options.maxFutureSkewMs;
    for (let i = 0; i < batch.readings.length; i++) {
      const r = batch.readings[i] as Record<string, unknown> | null;
      // Before anything else walks it: the schema check and every later stage recurse.
      const problem = jsonProblem(r, this.#bounds, READING_DEPTH);
      if (problem) {
        rejects.push(this.#readingReject(PROBLEM_REASON[problem.code], `readings[${i}]${problem.path} ${problem.message}`, topic, topicGatewayId, problem.code === 'too_deep' ? shallow(r) : r, receivedAtMs));
        continue;
      }
      const kind = r !== null && typeof r === 'object' ? r.kind : undefined;
      if (typeof kind !== 'string' || !KINDS.has(kind)) {
        rejects.push(this.#readingReject('unknown_kind', `readings[${i}].kind ${JSON.stringify(kind)} is not one of ${DEVICE_KINDS.join(', ')}`, topic, topicGatewayId, r, receivedAtMs));
        continue;
      }
      const validate = this.#readingByKind[kind as DeviceKind];
      dropNotReported(r as Record<string, unknown>);
      if (!validate(r)) {
        rejects.push(this.#readingReject('bad_reading', `readings[${i}]${describe(validate.errors)}`, topic, topicGatewayId, r, receivedAtMs));
        continue;
      }
      const reading = r as unknown as Reading;
      // Just checked by the schema's date-time format, which kept the value: no second parse.
      const atMs = this.#dateTime.parse(reading.at);
      if (!(atMs >= earliest && atMs <= latest)) {
        rejects.push(this.#readingReject('timestamp_out_of_range', `readings[${i}].at ${reading.at} is outside the accepted window around ${new Date(receivedAtMs).toISOString()}`, topic, topicGatewayId, r, receivedAtMs));
        continue;
      }
      reading.atMs = atMs;
      reading.gatewayId = topicGatewayId;
      reading.receivedAtMs = receivedAtMs;
      readings.push(reading);
    }
    return { batch: { gatewayId: topicGatewayId, seq: batch.seq, sentAtMs: this.#dateTime.parse(batch.sentAt), readings }, rejects };
  }

  /** Dead letters keep refused text as visible escapes: what the edge refused never travels on as it came. */
  #truncate(text: string): string {
    const max = this.#options.deadLetterPayloadChars;
    return escapeUnsafe(text.length > max ? `${text.slice(0, max)}…` : text);
  }

  #reject(reason: RejectReason, message: string, topic: string, payload: Buffer, receivedAtMs: number, gatewayId?: string): UplinkResult {
    const head = payload.subarray(0, this.#options.deadLetterPayloadChars * 4).toString('utf8');
    return { rejects: [{ reason, message, topic: escapeUnsafe(topic), gatewayId, payload: this.#truncate(head), receivedAtMs }] };
  }

  #readingReject(reason: RejectReason, message: string, topic: string, gatewayId: string, reading: unknown, receivedAtMs: number): DeadLetter {
    const id = reading !== null && typeof reading === 'object' ? (reading as { deviceId?: unknown }).deviceId : undefined;
    const deviceId = typeof id === 'string' && ID.test(id) ? id : undefined;
    return { reason, message, topic, gatewayId, deviceId, payload: this.#truncate(JSON.stringify(reading) ?? 'undefined'), receivedAtMs };
  }
}
