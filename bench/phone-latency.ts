/**
 * Leak → the technician's phone, per phone channel: the time from publishing a home gas alarm's
 * leak reading over MQTT to the stand-in of each provider receiving that leak's message — the
 * first phone notification — through the embedded pipeline in its own process. Channels: WeCom,
 * DingTalk and Feishu app messages, Web Push (https push service, VAPID checked, payload
 * decrypted), SMS through Aliyun and through Tencent Cloud (signatures checked), all from
 * alerts/push/phone-stand-ins.ts, the stand-ins `npm run stand-ins` runs. The on-call technician
 * gets every account, a phone and the stand-in phone's Web Push subscription through the API.
 *
 * A voice call rings only at the SLA repeat of an emergency nobody acknowledged: the emergency
 * repeat is shortened to --repeat-ms and the SLA check runs every --sla-check-ms, and voice
 * (Aliyun, Tencent) is reported as repeat due (the ticket's dispatch + repeat) → call received,
 * which includes the wait for the next SLA check.
 *
 *   npx tsx bench/phone-latency.ts [--leaks 200] [--rate 20] [--repeat-ms 5000] [--sla-check-ms 200]
 *     [--timeout-s 60] [--out bench/out/phone-latency.json]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { type PhoneMessage, phoneChannelSettings, smsChannelConfig, startPhoneStandIns, voiceChannelConfig } from '../alerts/push/phone-stand-ins.ts';
import { openStream, type StreamClient } from '../tests/stream-client.ts';
import { selfSignedCert } from '../tests/tls-fixture.ts';
import { BENCH_ADMIN_TOKEN, BENCH_TECHNICIAN, cliArgs, issueToken, LatencyHistogram, writeBenchOncall, writeResult } from './common.ts';
import { type PipelineUnderTest, startPipelineUnderTest } from './pipeline-under-test.ts';
import type { PhoneLatency } from './report.ts';

const { values } = parseArgs({
  options: {
    leaks: { type: 'string', default: '200' },
    rate: { type: 'string', default: '20' },
    'repeat-ms': { type: 'string', default: '5000' },
    'sla-check-ms': { type: 'string', default: '200' },
    'timeout-s': { type: 'string', default: '60' },
    out: { type: 'string', default: 'bench/out/phone-latency.json' },
  },
});
const args = cliArgs('phone-latency');
const leaks = args.positiveInt('--leaks', values.leaks!);
const ratePerS = args.positiveInt('--rate', values.rate!);
const repeatMs = args.positiveInt('--repeat-ms', values['repeat-ms']!);
const slaCheckMs = args.positiveInt('--sla-check-ms', values['sla-check-ms']!);
const timeoutS = args.positiveInt('--timeout-s', values['timeout-s']!);
if (slaCheckMs < 100) args.fail('--sla-check-ms must be at least 100 (the settings\' minimum)');

/** A channel as timed: which stand-in message counts for it, and what is measured. */
interface Timed {
  channel: string;
  type: string;
  provider: string;
  kind: PhoneMessage['kind'] | 'stream';
  measured: 'publish → received' | 'repeat due → call received';
}
const CHANNELS: Timed[] = [
  // The reference: the same leak on the technician's live stream, a push with no provider behind it (bench/alarm-to-push.ts).
  { channel: 'sse', type: 'sse', provider: '(console stream, reference)', kind: 'stream', measured: 'publish → received' },
  { channel: 'wecom', type: 'wecom-app', provider: 'wecom', kind: 'app', measured: 'publish → received' },
  { channel: 'dingtalk', type: 'dingtalk-work', provider: 'dingtalk', kind: 'app', measured: 'publish → received' },
  { channel: 'feishu', type: 'feishu-app', provider: 'feishu', kind: 'app', measured: 'publish → received' },
  { channel: 'web-push', type: 'web-push', provider: 'web-push', kind: 'push', measured: 'publish → received' },
  { channel: 'sms', type: 'sms', provider: 'aliyun', kind: 'sms', measured: 'publish → received' },
  { channel: 'sms-tencent', type: 'sms', provider: 'tencent', kind: 'sms', measured: 'publish → received' },
  { channel: 'voice', type: 'voice', provider: 'aliyun', kind: 'call', measured: 'repeat due → call received' },
  { channel: 'voice-tencent', type: 'voice', provider: 'tencent', kind: 'call', measured: 'repeat due → call received' },
];
const channelOf = (m: PhoneMessage) => CHANNELS.find((c) => c.provider === m.provider && c.kind === m.kind);
const GATEWAY = 'GW-PHONE';
const PHONE = '13900000100';
const devices = Array.from({ length: leaks }, (_, i) => `HA-PL${String(i + 1).padStart(6, '0')}`);
/** Performance time on the epoch's scale, for comparing with the pipeline's timestamps. */
const epochMs = () => performance.timeOrigin + performance.now();

const dir = mkdtempSync(join(tmpdir(), 'gas-bench-phone-'));
const oncallFile = join(dir, 'oncall.json');
writeBenchOncall(oncallFile);
const registryFile = join(dir, 'registry.json');
writeFileSync(registryFile, JSON.stringify(devices.map((deviceId) => ({ deviceId, kind: 'home_gas_alarm', gatewayId: GATEWAY, district: '城东区', reportIntervalS: 30 }))));

const publishedAt = new Map<string, number>();
/** First message per channel and device (stream, app, push, SMS), in performance ms. */
const firstAt = new Map<string, Map<string, number>>(CHANNELS.filter((c) => c.kind !== 'call').map((c) => [c.channel, new Map()]));
/** First call per voice channel and ticket, on the epoch's scale. */
const callAt = new Map<string, Map<string, number>>(CHANNELS.filter((c) => c.kind === 'call').map((c) => [c.channel, new Map()]));
let unmatched = 0;

function onPhone(m: PhoneMessage): void {
  const now = performance.now();
  const timed = channelOf(m);
  if (!timed) return;
  if (timed.kind === 'call') {
    const ticket = /\bT\d{6,}\b/.exec(m.text)?.[0];
    if (!ticket) return void unmatched++;
    const calls = callAt.get(timed.channel)!;
    if (!calls.has(ticket)) calls.set(ticket, epochMs());
    return;
  }
  const device = /HA-PL\d{6}/.exec(m.text)?.[0];
  // A later notice (the ticket's repeat) names the ticket: not the first notification of a leak.
  if (!device) return void (/\bT\d{6,}\b/.test(m.text) || unmatched++);
  const seen = firstAt.get(timed.channel)!;
  if (!seen.has(device)) seen.set(device, now);
}

mkdirSync(join(dir, 'tls'));
const cert = selfSignedCert(join(dir, 'tls'));
const standIns = await startPhoneStandIns({ ports: { wecom: 0, dingtalk: 0, feishu: 0, cloud: 0, webPush: 0 }, onPhone, pushServiceTls: { cert: cert.cert, key: cert.key } });
const settings = phoneChannelSettings(standIns.urls);
// Every leak calls the same number: the per-number limits (1 a minute by default) would refuse all but the first.
const limits = { maxPerMinute: 1_000_000, maxPerHour: 1_000_000, maxPerDay: 1_000_000 };
const channels = [
  ...settings.push.channels.map((c) => (c.name === 'voice' ? { ...c, config: { ...c.config, ...limits } } : c)),
  { name: 'sms-tencent', type: 'sms', config: smsChannelConfig('tencent', standIns.urls) },
  { name: 'voice-tencent', type: 'voice', config: { ...voiceChannelConfig('tencent', standIns.urls), ...limits } },
];
// The pipeline's process trusts the push service's certificate, as NODE_EXTRA_CA_CERTS does for `npm start`.
process.env.NODE_EXTRA_CA_CERTS = cert.certFile;
let pipeline: PipelineUnderTest | undefined;
let gateway: mqtt.MqttClient | undefined;
let stream: StreamClient | undefined;
try {
  pipeline = await startPipelineUnderTest({
    role: 'all', mqttPort: 0, mqttHost: '127.0.0.1', mqttClientId: 'gas-ingest-phone', httpPort: 0, httpHost: '127.0.0.1',
    dataDir: join(dir, 'data'), registryFile, oncallFile, adminToken: BENCH_ADMIN_TOKEN, logLevel: 'warn',
    settings: { ...settings, push: { channels }, sla: { escalation: { repeatNotifyMs: { emergency: repeatMs } } }, slaCheckIntervalMs: slaCheckMs },
  });
  const httpUrl = pipeline.httpUrl;
  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${httpUrl}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<any>;
  };

  // The technician: every messenger account and a phone, as an operator enters them, and the stand-in phone subscribed to Web Push.
  const person = await api('GET', `/oncall/people/${BENCH_TECHNICIAN}`, BENCH_ADMIN_TOKEN);
  await api('PUT', `/oncall/people/${BENCH_TECHNICIAN}`, BENCH_ADMIN_TOKEN, { ...person, phone: PHONE, accounts: { wecom: BENCH_TECHNICIAN, dingtalk: BENCH_TECHNICIAN, feishu: `ou_${BENCH_TECHNICIAN}` } });
  const techToken = await issueToken(httpUrl, { name: 'bench phone', role: 'technician', personId: BENCH_TECHNICIAN });
  await api('POST', '/push/subscriptions', techToken, standIns.phoneSubscription);
  stream = await openStream(`${httpUrl}/api/v1/stream?access_token=${techToken}`);

  gateway = await mqtt.connectAsync(pipeline.mqttUrl!, { clientId: GATEWAY, reconnectPeriod: 0 });
  const loadAtStart = loadavg()[0]!;
  const started = performance.now();
  const gapMs = 1000 / ratePerS;
  const acks: Promise<unknown>[] = [];
  for (const [i, deviceId] of devices.entries()) {
    const wait = started + i * gapMs - performance.now();
    if (wait > 0) await sleep(wait);
    const at = new Date().toISOString();
    const payload = JSON.stringify({ gatewayId: GATEWAY, seq: i + 1, sentAt: at, readings: [{ deviceId, kind: 'home_gas_alarm', at, lelPct: 60, lamps: { power: true, fault: false, alarm: true }, buzzer: 'intermittent', valve: 'closed' }] });
    publishedAt.set(deviceId, performance.now());
    acks.push(gateway.publishAsync(`gas/v1/${GATEWAY}/up`, payload, { qos: 1 }));
  }
  await Promise.all(acks);
  const publishSeconds = (performance.now() - started) / 1000;

  // Every channel has every leak, and each voice channel a call per leak's ticket, or the time is up.
  const deadline = performance.now() + timeoutS * 1000;
  const readStream = () => {
    const seen = firstAt.get('sse')!;
    for (const e of stream!.events) {
      const device = /HA-PL\d{6}/.exec(JSON.stringify(e.data))?.[0];
      if (device && !seen.has(device)) seen.set(device, e.receivedAtMs);
    }
  };
  const done = () => CHANNELS.every((c) => (c.kind === 'call' ? callAt : firstAt).get(c.channel)!.size >= leaks);
  while ((readStream(), !done()) && performance.now() < deadline) await sleep(100);

  const loadAtEnd = loadavg()[0]!;
  // Voice: the call's ticket, its dispatch and so when the repeat was due, and when the SLA check that repeated started (the escalation's time).
  const repeatOf = new Map<string, { dueMs: number; checkMs: number }>();
  for (const ticket of new Set([...callAt.values()].flatMap((m) => [...m.keys()]))) {
    const t = await api('GET', `/tickets/${ticket}`, BENCH_ADMIN_TOKEN);
    const repeat = (t.escalations as Array<{ level: string; at: string }>).find((e) => e.level === 'repeat');
    if (t.dispatchedAt && repeat) repeatOf.set(ticket, { dueMs: Date.parse(t.dispatchedAt) + repeatMs, checkMs: Date.parse(repeat.at) });
  }
  const rows: Array<Timed & PhoneLatency['channels'][number]> = CHANNELS.map((c) => {
    const h = new LatencyHistogram();
    if (c.kind !== 'call') {
      for (const [device, at] of firstAt.get(c.channel)!) h.recordMs(at - publishedAt.get(device)!);
      return { ...c, received: h.count, missing: leaks - h.count, latencyMs: h.percentilesMs() };
    }
    const toCheck = new LatencyHistogram();
    const checkToCall = new LatencyHistogram();
    for (const [ticket, at] of callAt.get(c.channel)!) {
      const r = repeatOf.get(ticket);
      if (!r) continue;
      h.recordMs(Math.max(0, at - r.dueMs));
      toCheck.recordMs(Math.max(0, r.checkMs - r.dueMs));
      checkToCall.recordMs(Math.max(0, at - r.checkMs));
    }
    return { ...c, received: h.count, missing: leaks - h.count, latencyMs: h.percentilesMs(), split: { dueToCheckMs: toCheck.percentilesMs(), checkToCallMs: checkToCall.percentilesMs() } };
  });

  const cell = (x: number) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const summary = [
    `phone-latency: ${leaks} leaks (distinct home gas alarms) at ${ratePerS}/s over MQTT, published in ${publishSeconds.toFixed(1)} s; emergency repeat ${repeatMs} ms, SLA check every ${slaCheckMs} ms; load average ${loadAtStart.toFixed(1)} → ${loadAtEnd.toFixed(1)}`,
    line(['channel', 'type', 'provider', 'measured', 'n', 'missing', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms']),
    line(Array(10).fill('---')),
    ...rows.map((r) => line([r.channel, r.type, r.provider, r.measured, r.received, r.missing, cell(r.latencyMs.p50), cell(r.latencyMs.p90), cell(r.latencyMs.p99), cell(r.latencyMs.max)])),
    'voice: from when the repeat was due (the ticket\'s dispatch + the repeat) to the call, so it includes the wait for the next SLA check; sse: the console\'s live stream, for reference',
    ...rows.flatMap((r) => (r.split ? [`${r.channel}: repeat due → SLA check started p50 ${cell(r.split.dueToCheckMs.p50)} / p99 ${cell(r.split.dueToCheckMs.p99)} ms; check started → call p50 ${cell(r.split.checkToCallMs.p50)} / p99 ${cell(r.split.checkToCallMs.p99)} ms`] : [])),
    ...(unmatched > 0 ? [`${unmatched} stand-in message(s) named no bench device or ticket`] : []),
  ];
  writeResult<PhoneLatency>(values.out!, {
    benchmark: 'phone-latency',
    params: { leaks, ratePerS, repeatNotifyMs: repeatMs, slaCheckIntervalMs: slaCheckMs, timeoutS },
    results: {
      path: 'embedded pipeline in its own process → provider stand-ins in the bench process (alerts/push/phone-stand-ins.ts)',
      leaks,
      ratePerS,
      publishSeconds: Number(publishSeconds.toFixed(3)),
      repeatNotifyMs: repeatMs,
      slaCheckIntervalMs: slaCheckMs,
      loadAvg1: { start: Number(loadAtStart.toFixed(2)), end: Number(loadAtEnd.toFixed(2)) },
      channels: rows.map(({ channel, type, provider, measured, received, missing, latencyMs, split }) => ({ channel, type, provider, measured, received, missing, latencyMs, ...(split ? { split } : {}) })),
      unmatched,
    },
    summary,
  });
} finally {
  stream?.close();
  await gateway?.endAsync();
  await pipeline?.stop();
  await standIns.close();
  rmSync(dir, { recursive: true, force: true });
}
