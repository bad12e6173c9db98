/**
 * The city simulator's command line: see README.md.
 *
 *   npx tsx simulators/city/cli.ts --url mqtt://127.0.0.1:1883 --meters 1000000 --gateways 10000 --seed 1 [--processes 4] …
 */
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { DEFAULT_FAULT_SHARE, validateCityOptions, type CityOptions } from './city.ts';
import { CityRun, writeRegistry, type CityRunOptions } from './run.ts';
import { lastMeterReportAt } from './schedule.ts';

const USAGE = `Usage: npx tsx simulators/city/cli.ts --url mqtt://127.0.0.1:1883 [options]

  --url URL              MQTT broker                                        required unless --registry-only
  --meters N             devices (every connection point)                               default 1000000
  --gateways N           gateways, GW-000001… (devices dealt round-robin)                 default 10000
  --seed S               the same seed gives the same devices, faults and values              default 1
  --processes N          publisher processes, each owning a range of gateways                default ${defaultProcesses()}
  --mode burst|schedule  burst: one reading of every device within one simulated minute, as fast as
                         the broker accepts; schedule: every kind on its schedule   default schedule
  --batch N              most readings per batch (1–5000)                                  default 100
  --fault-share X        share of devices with a fault (0–1)                            default ${DEFAULT_FAULT_SHARE}
  --hourly-meters        household meters report hourly instead of daily
  --registry-out PATH    write the device registry (JSON) for the pipeline's REGISTRY
  --registry-only        write the registry and exit
  --report-out PATH      also write the report (JSON) here

 burst
  --burst-at ISO         the simulated minute           default: the last full minute (nothing in the future)

 schedule
  --speed X              simulated seconds per wall second                                    default 1
  --duration-s S         simulated seconds to run                                           default 600
  --start ISO            simulated start      default: 5 min before the last meter report time that
                                                       leaves the whole run in the past
  --meter-report-at HH:MM  local time household meters report (hourly: its minute)       default 00:00
  --utc-offset-h H       the city's offset from UTC                                           default 8
  --meter-spread-s S     meters report within S seconds of the report time        default 60 (one minute)
  --upload-s S           each gateway uploads what it collected every S simulated seconds    default 30
  --tick-ms MS           wall time between steps of the simulated clock                     default 100

 gateways
  --window N             batches in flight per process (each gateway has at most one)       default 256
  --ack-timeout-ms MS    no PUBACK within this is a failed publish: reconnect and resend  default 30000
  --retry-min-ms MS      first retry waits a random time under this; the window doubles…  default 1000
  --retry-max-ms MS      …up to this                                                      default 30000
  --max-attempts N       attempts per batch before the gateway gives it up                    default 20
  --seq-start N          seq of each gateway's first batch                                     default 1
  --hold-s S             keep the gateways connected S s after the last PUBACK, e.g. until the
                         pipeline has caught up                                               default 0
  --credentials PATH     \`gatewayId:password\` lines for a broker without anonymous access
  --help

Progress goes to stderr (LOG_LEVEL); the report goes to stdout as JSON. Exit code 2 on a bad
argument, 1 when a publisher fails.
`;

function defaultProcesses(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

class UsageError extends Error {}

function num(name: string, raw: string | undefined, fallback: number, min: number, max: number, integer = true): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function time(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new UsageError(`--${name} must be an ISO date-time, got ${JSON.stringify(raw)}`);
  return ms;
}

interface Cli {
  run: CityRunOptions;
  holdS: number;
  registryOut?: string;
  registryOnly: boolean;
  reportOut?: string;
}

export function parseCli(argv: string[], nowMs = Date.now()): Cli | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        url: { type: 'string' }, meters: { type: 'string' }, gateways: { type: 'string' }, seed: { type: 'string' }, processes: { type: 'string' },
        mode: { type: 'string' }, batch: { type: 'string' }, 'fault-share': { type: 'string' }, 'hourly-meters': { type: 'boolean' },
        'registry-out': { type: 'string' }, 'registry-only': { type: 'boolean' }, 'report-out': { type: 'string' },
        'burst-at': { type: 'string' }, speed: { type: 'string' }, 'duration-s': { type: 'string' }, start: { type: 'string' },
        'meter-report-at': { type: 'string' }, 'utc-offset-h': { type: 'string' }, 'meter-spread-s': { type: 'string' },
        'upload-s': { type: 'string' }, 'tick-ms': { type: 'string' }, window: { type: 'string' }, 'ack-timeout-ms': { type: 'string' },
        'retry-min-ms': { type: 'string' }, 'retry-max-ms': { type: 'string' }, 'max-attempts': { type: 'string' }, 'seq-start': { type: 'string' },
        credentials: { type: 'string' }, 'hold-s': { type: 'string' }, help: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const mode = values.mode ?? 'schedule';
  if (mode !== 'burst' && mode !== 'schedule') throw new UsageError(`--mode must be burst or schedule, got ${JSON.stringify(mode)}`);
  const registryOnly = values['registry-only'] ?? false;
  if (!values.url && !registryOnly) throw new UsageError('--url is required');
  if (values.url && !/^(mqtts?|wss?|tcp|tls):\/\//.test(values.url)) throw new UsageError(`--url must be an mqtt://, mqtts://, ws:// or wss:// URL, got ${values.url}`);

  const city: CityOptions = {
    meters: num('meters', values.meters, 1_000_000, 1, 99_999_999),
    gateways: num('gateways', values.gateways, 10_000, 1, 999_999),
    seed: num('seed', values.seed, 1, -(2 ** 31), 2 ** 32),
    faultShare: num('fault-share', values['fault-share'], DEFAULT_FAULT_SHARE, 0, 1, false),
    hourlyMeters: values['hourly-meters'] ?? false,
  };
  try {
    validateCityOptions(city);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const reportAt = /^(\d{1,2}):(\d{2})$/.exec(values['meter-report-at'] ?? '00:00');
  if (!reportAt || Number(reportAt[1]) > 23 || Number(reportAt[2]) > 59) throw new UsageError(`--meter-report-at must be HH:MM, got ${values['meter-report-at']}`);
  const durationMs = num('duration-s', values['duration-s'], 600, 1, 30 * 86_400) * 1000;
  const scheduleTimes = {
    meterReportAtMin: Number(reportAt[1]) * 60 + Number(reportAt[2]),
    utcOffsetMin: num('utc-offset-h', values['utc-offset-h'], 8, -12, 14, false) * 60,
    meterSpreadS: num('meter-spread-s', values['meter-spread-s'], 60, 0, 86_400),
  };
  // Five minutes before a meter report time, and the whole run in the past: ingest refuses readings from the future.
  const startMs = time('start', values.start) ?? lastMeterReportAt(nowMs - durationMs + 300_000, scheduleTimes, city.hourlyMeters) - 300_000;
  const retryMinMs = num('retry-min-ms', values['retry-min-ms'], 1000, 1, 3_600_000);
  return {
    registryOut: values['registry-out'],
    registryOnly,
    reportOut: values['report-out'],
    holdS: num('hold-s', values['hold-s'], 0, 0, 86_400, false),
    run: {
      city,
      mode,
      url: values.url ?? '',
      processes: num('processes', values.processes, Math.min(defaultProcesses(), city.gateways), 1, Math.min(64, city.gateways)),
      batch: num('batch', values.batch, 100, 1, 5000),
      window: num('window', values.window, 256, 1, 1_000_000),
      link: {
        ackTimeoutMs: num('ack-timeout-ms', values['ack-timeout-ms'], 30_000, 100, 3_600_000),
        retryMinMs,
        retryMaxMs: num('retry-max-ms', values['retry-max-ms'], 30_000, retryMinMs, 3_600_000),
        maxAttempts: num('max-attempts', values['max-attempts'], 20, 1, 1_000_000),
      },
      seqStart: num('seq-start', values['seq-start'], 1, 0, Number.MAX_SAFE_INTEGER),
      credentialsFile: values.credentials,
      connectConcurrency: 100,
      burstMinuteMs: time('burst-at', values['burst-at']) ?? Math.floor(nowMs / 60_000) * 60_000 - 60_000,
      schedule: {
        ...scheduleTimes,
        startMs,
        endMs: startMs + durationMs,
        speed: num('speed', values.speed, 1, 0.001, 1_000_000, false),
        uploadS: num('upload-s', values['upload-s'], 30, 1, 86_400),
        tickMs: num('tick-ms', values['tick-ms'], 100, 10, 60_000),
      },
    },
  };
}

async function main(): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (cli === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
  const { run: options } = cli;
  if (cli.registryOut) {
    const started = performance.now();
    const bytes = await writeRegistry(options.city, cli.registryOut);
    log.info({ file: cli.registryOut, devices: options.city.meters, mb: Math.round(bytes / 2 ** 20), ms: Math.round(performance.now() - started) }, 'Registry written');
  }
  if (cli.registryOnly) return 0;

  log.info({ meters: options.city.meters, gateways: options.city.gateways, processes: options.processes, mode: options.mode }, 'Starting publishers');
  const run = await CityRun.start(options);
  const stop = () => void run.kill().then(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  log.info('Every gateway connected: go');
  run.go();
  const timer = setInterval(() => {
    const p = run.progress();
    log.info({ readings: p.readings, batches: p.batches, retries: p.retries, queuedBatches: p.queuedBatches, simAt: new Date(p.simAtMs).toISOString() }, 'Progress');
  }, 5000);
  try {
    const report = await run.finished();
    const text = `${JSON.stringify(report, null, 2)}\n`;
    if (cli.reportOut) {
      mkdirSync(dirname(cli.reportOut), { recursive: true });
      writeFileSync(cli.reportOut, text);
    }
    process.stdout.write(text);
    log.info({ readings: report.readings, readingsPerS: report.readingsPerS, retries: report.retries, faults: report.faults.length }, 'Done');
    if (cli.holdS > 0) await new Promise((resolve) => setTimeout(resolve, cli.holdS * 1000));
    await run.close();
    return 0;
  } catch (err) {
    log.error({ err }, 'A publisher failed');
    return 1;
  } finally {
    clearInterval(timer);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => (process.exitCode = code));
}
