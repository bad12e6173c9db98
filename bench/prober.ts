import { Worker } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { openStream, type StreamClient, type StreamEvent } from '../tests/stream-client.ts';

const BOOT = new URL('./prober-boot.mjs', import.meta.url);
const PROBE_TIMEOUT_MS = 30_000;

/** One leak's times from its publish to the operator's alert stream and to the technician's push, ms. */
export interface Probe {
  alertMs?: number;
  pushMs?: number;
}

/** What the prober thread needs: where to publish, the two streams to watch, and fresh device ids. */
export interface ProberInit {
  mqttUrl: string;
  alertStreamUrl: string;
  pushStreamUrl: string;
  deviceIds: string[];
}

/** Each stream event's data as text once, however many probes look at it. */
const textOfEvent = new WeakMap<StreamEvent, string>();
function mentions(e: StreamEvent, deviceId: string): boolean {
  let text = textOfEvent.get(e);
  if (text === undefined) {
    text = JSON.stringify(e.data);
    textOfEvent.set(e, text);
  }
  return text.includes(`"${deviceId}"`);
}

/** Publishes leaks as gateway GW-PROBE and times each to both streams. */
export class Prober {
  #seq = 0;
  #next = 0;
  lost = 0;

  constructor(
    private readonly client: MqttClient,
    private readonly alertStream: StreamClient,
    private readonly pushStream: StreamClient,
    private readonly deviceIds: string[],
  ) {}

  static async open(init: ProberInit): Promise<Prober> {
    const alertStream = await openStream(init.alertStreamUrl);
    const pushStream = await openStream(init.pushStreamUrl);
    const client = await mqtt.connectAsync(init.mqttUrl, { clientId: 'GW-PROBE', reconnectPeriod: 0 });
    return new Prober(client, alertStream, pushStream, init.deviceIds);
  }

  /** One gas alarm from a device that never alarmed before; resolves once both streams showed it or timed out. */
  async probe(): Promise<Probe> {
    const deviceId = this.deviceIds[this.#next++];
    if (!deviceId) throw new Error('out of probe devices');
    const at = new Date().toISOString();
    const payload = JSON.stringify({
      gatewayId: 'GW-PROBE',
      seq: ++this.#seq,
      sentAt: at,
      readings: [{ deviceId, kind: 'home_gas_alarm', at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'closed' }],
    });
    const alert = this.alertStream.next((e) => e.event === 'alert.raised' && mentions(e, deviceId), PROBE_TIMEOUT_MS);
    const push = this.pushStream.next((e) => mentions(e, deviceId), PROBE_TIMEOUT_MS);
    const settled = Promise.allSettled([alert, push]);
    const started = performance.now();
    await this.client.publishAsync('gas/v1/GW-PROBE/up', payload, { qos: 1 });
    const [a, p] = await settled;
    if (a.status === 'rejected' || p.status === 'rejected') this.lost++;
    return {
      alertMs: a.status === 'fulfilled' ? a.value.receivedAtMs - started : undefined,
      pushMs: p.status === 'fulfilled' ? p.value.receivedAtMs - started : undefined,
    };
  }

  async close(): Promise<void> {
    this.alertStream.close();
    this.pushStream.close();
    await this.client.endAsync().catch(() => undefined);
  }
}

type Reply = { id: number; probe: Probe; lost: number } | { id: number; error: string };

/**
 * A `Prober` on a thread of its own. The load generator keeps its event loop busy (its delay p99
 * is 12-16 ms at 50 % of peak); a probe timed on that loop waited for it twice, before its
 * publish went out and before its push was read, and the leak's latency included the bench's
 * own delays. On its own thread the probe's clock starts when the publish is written and stops
 * when the push arrives.
 */
export class ProberThread {
  #nextId = 0;
  #lost = 0;
  readonly #pending = new Map<number, { resolve: (p: Probe) => void; reject: (err: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    /** The worker's Linux thread id. */
    readonly tid: number,
  ) {
    worker.on('message', (r: Reply) => {
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if ('error' in r) p.reject(new Error(r.error));
      else {
        this.#lost = r.lost;
        p.resolve(r.probe);
      }
    });
    worker.on('error', (err) => {
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    });
  }

  static async start(init: ProberInit): Promise<ProberThread> {
    const worker = new Worker(BOOT, { workerData: init });
    const tid = await new Promise<number>((resolve, reject) => {
      worker.once('message', (m: { ready?: boolean; tid?: number; error?: string }) => (m.ready ? resolve(m.tid!) : reject(new Error(m.error ?? 'prober did not start'))));
      worker.once('error', reject);
    });
    return new ProberThread(worker, tid);
  }

  /** Probes that timed out on either stream so far. */
  get lost(): number {
    return this.#lost;
  }

  probe(): Promise<Probe> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.worker.postMessage({ id });
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage({ close: true });
    await new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
  }
}
