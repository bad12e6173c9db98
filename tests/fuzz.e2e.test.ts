import { connect as tcpConnect } from 'node:net';
import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import type { RejectReason } from '../contracts/messages.ts';
import { mulberry32 } from '../simulators/fleet.ts';
import { startTestPipeline, type AlertItem } from './harness.ts';

/**
 * 100,000 hostile uplinks (truncated, wrong-shaped, forged, wrong-typed, out-of-range and
 * wrong-unit values, unknown kinds, far-future and far-past stamps, replays, oversize) and garbage
 * at the broker's TCP port, beside a gateway sending good readings with one real leak. The pipeline
 * must stay up, judge every good reading, count every bad message under its reason, and raise the
 * leak and nothing else. Every generated message's outcome is known by construction (seeded).
 */

const TOTAL = 100_000;
const FUZZ = 'GW-FZ';
const GOOD = 'GW-GOOD';

type Expect = { reason: RejectReason } | { duplicate: true } | { accepted: true };

describe('fuzzing the running pipeline', () => {
  it(`rejects ${TOTAL.toLocaleString('en')} hostile messages by reason, survives garbage packets, and raises only the real leak`, async () => {
    const pipeline = await startTestPipeline();
    const random = mulberry32(20261201);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const at = () => new Date(pipeline.clock.now()).toISOString();
    // Counted from 1000: a replay of a batch with a low seq reads as a gateway that restarted its counter.
    let seq = 1000;
    const meter = (deviceId: string, extra: Record<string, unknown> = {}) => ({ deviceId, kind: 'household_meter', at: at(), volumeM3: 12.5, batteryV: 3.6, valve: 'open', ...extra });
    const batch = (readings: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ gatewayId: FUZZ, seq: ++seq, sentAt: at(), readings, ...extra });
    const goodFuzzBatches: string[] = [];

    // One generator per kind of hostility; each returns the payload and what ingest must make of it.
    const generators: Array<() => [string | Buffer, Expect]> = [
      () => {
        const whole = batch([meter(`HM-FZ${seq}`)]);
        return [whole.slice(0, 1 + Math.floor(random() * (whole.length - 2))), { reason: 'not_json' }];
      },
      () => [pick(['[]', '42', '"up"', 'null', '{}', '{"gatewayId":"GW-FZ"}', JSON.stringify({ gatewayId: FUZZ, seq: -1, sentAt: at(), readings: [meter('HM-FZ')] }), JSON.stringify({ gatewayId: FUZZ, seq: 1.5, sentAt: at(), readings: [meter('HM-FZ')] }), JSON.stringify({ gatewayId: FUZZ, seq: 'x', sentAt: at(), readings: [] }), JSON.stringify({ gatewayId: FUZZ, seq: 1, sentAt: 'yesterday', readings: [meter('HM-FZ')] })]), { reason: 'bad_shape' }],
      () => [batch([meter('HM-FZ')], { gatewayId: pick(['GW-OTHER', GOOD, 'GW-FZ2']) }), { reason: 'gateway_mismatch' }],
      () => {
        const wrong = pick<Record<string, unknown>>([
          { lelPct: 150 }, { lelPct: -5 }, { lelPct: 'high' }, { lelPct: 5000 }, // 5000: ppm sent as %LEL
          { batteryV: 360 }, { batteryV: 'flat' }, { volumeM3: -1 }, { volumeM3: '12' }, { valve: 'half' },
          { status: 'ERR-1' }, { deviceId: 'bad id with spaces' }, { deviceId: '' }, { at: 12345 }, { at: 'now' },
        ]);
        const reading = { ...meter(`HM-FZ${seq}`, { lelPct: undefined }), ...wrong };
        if (wrong.lelPct !== undefined) Object.assign(reading, { kind: 'home_gas_alarm' });
        return [batch([reading]), { reason: 'bad_reading' }];
      },
      () => [batch([{ ...meter(`HM-FZ${seq}`), kind: pick(['water_meter', 'HOUSEHOLD_METER', '', 'meter']) }]), { reason: 'unknown_kind' }],
      () => [batch([meter(`HM-FZ${seq}`, { at: pick(['2099-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z', '2000-06-01T12:00:00.000Z']) })]), { reason: 'timestamp_out_of_range' }],
      () => {
        // A good batch, remembered, sent again unchanged later as a replay.
        if (goodFuzzBatches.length > 0 && random() < 0.5) return [pick(goodFuzzBatches), { duplicate: true }];
        const good = batch([meter(`HM-FZR${seq % 50}`, { at: new Date(pipeline.clock.now() - 3_600_000).toISOString() })]);
        goodFuzzBatches.push(good);
        return [good, { accepted: true }];
      },
    ];

    const judged = async () => (await pipeline.metric('gas_processor_readings_total')) + (await pipeline.metric('gas_processor_late_readings_total'));
    const fuzz = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: FUZZ });
    const good = await mqtt.connectAsync(pipeline.mqttUrl, { clientId: GOOD });
    try {
      const expectedRejects: Partial<Record<RejectReason, number>> = {};
      let duplicates = 0;
      const inFlight: Promise<unknown>[] = [];
      let goodSeq = 0;
      let goodReadings = 0;
      const sendGood = async (leak: boolean) => {
        const readings: unknown[] = Array.from({ length: 20 }, (_, i) => ({ deviceId: `HM-G${i}`, kind: 'household_meter', at: at(), volumeM3: 100 + goodSeq * 0.01, batteryV: 3.6, valve: 'open' }));
        readings.push({ deviceId: 'HA-LEAK', kind: 'home_gas_alarm', at: at(), lelPct: leak ? 40 : 0 });
        goodReadings += readings.length;
        await good.publishAsync(`gas/v1/${GOOD}/up`, JSON.stringify({ gatewayId: GOOD, seq: ++goodSeq, sentAt: at(), readings }), { qos: 1 });
      };

      for (let i = 0; i < TOTAL; i++) {
        const [payload, outcome] = pick(generators)();
        if ('reason' in outcome) expectedRejects[outcome.reason] = (expectedRejects[outcome.reason] ?? 0) + 1;
        else if ('duplicate' in outcome) duplicates++;
        inFlight.push(fuzz.publishAsync(`gas/v1/${FUZZ}/up`, payload, { qos: 1 }));
        if (inFlight.length >= 500) await Promise.all(inFlight.splice(0));
        if (i % 10_000 === 0) {
          await sendGood(i >= TOTAL / 2);
          // Under fuzz the good gateway's readings are still judged promptly, not queued behind it.
          const due = goodReadings + goodFuzzBatches.length;
          await pipeline.until('good traffic judged during the fuzz', async () => (await judged()) >= due, 5_000);
          pipeline.clock.advance(30_000);
        }
      }
      for (let i = 0; i < 3; i++) {
        inFlight.push(fuzz.publishAsync(`gas/v1/${FUZZ}/up`, Buffer.alloc(2 * 1024 * 1024 + 1, 0x7b), { qos: 1 }));
        expectedRejects.oversize = (expectedRejects.oversize ?? 0) + 1;
      }
      await Promise.all(inFlight);

      // Garbage at the broker's port: random bytes, and a CONNECT followed by junk.
      const port = Number(new URL(pipeline.mqttUrl).port);
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => new Promise<void>((resolve) => {
          const socket = tcpConnect(port, '127.0.0.1', () => {
            const junk = Buffer.from(Array.from({ length: 64 + (i % 512) }, () => Math.floor(random() * 256)));
            socket.end(i % 2 === 0 ? junk : Buffer.concat([Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff]), junk]));
          });
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.setTimeout(5_000, () => socket.destroy());
        })),
      );
      await sendGood(true);
      pipeline.clock.advance(30_000);
      await sendGood(true);

      const rejects = async () => {
        const text = await (await fetch(`${pipeline.httpUrl}/metrics`)).text();
        const out: Record<string, number> = {};
        for (const m of text.matchAll(/^gas_ingest_rejects_total\{reason="([a-z_]+)"\} (\d+)$/gm)) if (Number(m[2]) > 0) out[m[1]!] = Number(m[2]);
        return out;
      };
      const sorted = (o: Record<string, number | undefined>) => JSON.stringify(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
      await pipeline.until('every bad message counted', async () => sorted(await rejects()) === sorted(expectedRejects), 60_000).catch(() => undefined);
      expect(await rejects()).toEqual(expectedRejects);
      expect(await pipeline.metric('gas_ingest_duplicate_batches_total')).toBe(duplicates);

      // Every good reading judged (the replay batches' readings once each), and only the leak raised.
      await pipeline.until('good readings judged', async () => (await judged()) >= goodReadings + goodFuzzBatches.length, 30_000);
      const { items } = await pipeline.get<{ items: AlertItem[] }>('/alerts?limit=1000');
      expect(items.map((a) => `${a.deviceId} ${a.condition}`)).toEqual(['HA-LEAK GAS_ALARM_L1']);
      expect((await fetch(`${pipeline.httpUrl}/healthz`)).ok).toBe(true);
    } finally {
      await fuzz.endAsync(true);
      await good.endAsync();
      await pipeline.close();
    }
  }, 300_000);
});
