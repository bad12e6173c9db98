import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createFleet } from './fleet.ts';
import { buildScenario, isScenarioName, SCENARIO_NAMES, scenarioRegistry, ScenarioError, suggestDevices, type ScenarioName } from './scenarios.ts';
import { Simulation } from './simulation.ts';

const USAGE = `Usage: npm run simulate -- --url mqtt://127.0.0.1:1883 [options]

  --url URL            MQTT broker (mqtt://, mqtts://, tcp://, tls://, ws://, wss://)   required
  --gateways N         gateways, GW-000001…                                            default 10
  --devices M          devices, spread evenly over the gateways (M >= N)               default 200
  --rate R             readings per second                                              default 1000
  --scenario NAME      ${SCENARIO_NAMES.join(', ')}
                                                                                        default normal
  --seed S             integer; the same seed gives the same fleet and values           default 1
  --rounds K           rounds to run                                  default: what the scenario needs
  --step-ms MS         simulated time per round, also each device's reporting interval  default 30000
  --registry-out PATH  write the fleet's device registry (JSON) for the pipeline's REGISTRY
  --realtime           make each round last step-ms of wall time (needed for NO_SIGNAL against a
                       pipeline on the wall clock)
  --seq-start N        seq of each gateway's first batch                                default 1
  --credentials PATH   gateway passwords, one \`gatewayId:password\` a line (the broker's user name
                       is the gateway id), for a broker without anonymous access
  --help

Progress goes to stderr (LOG_LEVEL, default info); the summary of what was sent, with the
alerts the scenario expects, is printed as JSON on stdout.
`;

class UsageError extends Error {}

/** `gatewayId:password` lines, as scripts/services.sh keeps them for Mosquitto. */
function readCredentials(path: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--credentials ${path}: ${(err as Error).message}`);
  }
  const out = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const at = line.indexOf(':');
    if (at <= 0 || at === line.length - 1) throw new UsageError(`--credentials ${path}:${i + 1}: expected gatewayId:password`);
    out.set(line.slice(0, at), line.slice(at + 1));
  });
  return out;
}

interface CliArgs {
  url: string;
  gateways: number;
  devices: number;
  rate: number;
  scenario: ScenarioName;
  seed: number;
  rounds?: number;
  stepMs: number;
  registryOut?: string;
  realtime: boolean;
  seqStart: number;
  credentials?: string;
}

function integer(name: string, raw: string | undefined, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${name} must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function parse(argv: string[]): CliArgs | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        gateways: { type: 'string' },
        devices: { type: 'string' },
        rate: { type: 'string' },
        scenario: { type: 'string' },
        seed: { type: 'string' },
        rounds: { type: 'string' },
        'step-ms': { type: 'string' },
        'registry-out': { type: 'string' },
        realtime: { type: 'boolean', default: false },
        'seq-start': { type: 'string' },
        credentials: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';

  const url = values.url;
  if (!url) throw new UsageError('--url is required, e.g. --url mqtt://127.0.0.1:1883');
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (!['mqtt:', 'mqtts:', 'tcp:', 'tls:', 'ws:', 'wss:'].includes(protocol)) throw new UsageError(`--url must be mqtt://, mqtts://, tcp://, tls://, ws:// or wss://, got ${protocol}//`);

  const scenario = values.scenario ?? 'normal';
  if (!isScenarioName(scenario)) throw new UsageError(`--scenario ${JSON.stringify(scenario)} is not one of ${SCENARIO_NAMES.join(', ')}`);

  let rate = 1000;
  if (values.rate !== undefined) {
    rate = Number(values.rate);
    if (values.rate.trim() === '' || !Number.isFinite(rate) || rate <= 0) throw new UsageError(`--rate must be a positive number of readings per second, got ${JSON.stringify(values.rate)}`);
  }
  const gateways = integer('gateways', values.gateways, 10, 1, 999_999)!;
  const devices = integer('devices', values.devices, Math.max(200, gateways), 1, 99_999_999)!;
  if (devices < gateways) throw new UsageError(`--devices (${devices}) must be at least --gateways (${gateways}): every gateway needs a device`);
  return {
    url,
    gateways,
    devices,
    rate,
    scenario,
    seed: integer('seed', values.seed, 1, -2_147_483_648, 4_294_967_295)!,
    rounds: integer('rounds', values.rounds, undefined, 1),
    stepMs: integer('step-ms', values['step-ms'], 30_000, 1000, 86_400_000)!,
    registryOut: values['registry-out'],
    realtime: values.realtime ?? false,
    seqStart: integer('seq-start', values['seq-start'], 1, 0)!,
    credentials: values.credentials,
  };
}

async function main(argv: string[]): Promise<number> {
  let args: CliArgs | 'help';
  let gatewayPasswords: Map<string, string> | undefined;
  try {
    args = parse(argv);
    if (args !== 'help' && args.credentials) gatewayPasswords = readCredentials(args.credentials);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`simulate: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }

  const log = pino({ level: process.env.LOG_LEVEL || 'info', base: { component: 'simulator' } }, pino.destination({ dest: 2, sync: true }));
  let fleet;
  let scenario;
  try {
    fleet = createFleet({ gateways: args.gateways, devices: args.devices, seed: args.seed, stepMs: args.stepMs });
    scenario = buildScenario(args.scenario, fleet);
    if (args.rounds !== undefined && args.rounds < scenario.rounds && scenario.expected.length + Object.keys(scenario.expectedRejects).length > 0) {
      throw new UsageError(`--rounds ${args.rounds}: scenario ${scenario.name} needs at least ${scenario.rounds} rounds at --step-ms ${args.stepMs} to raise and clear every fault`);
    }
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ScenarioError || err instanceof RangeError)) throw err;
    let hint = '';
    if (err instanceof ScenarioError && fleet && /use more devices/.test(err.message)) {
      const devices = suggestDevices(args.scenario, fleet.options);
      if (devices !== undefined) hint = ` (--devices ${devices} works with --gateways ${args.gateways} --seed ${args.seed})`;
    }
    process.stderr.write(`simulate: ${err.message}${hint}\n`);
    return 2;
  }
  const rounds = args.rounds ?? scenario.rounds;
  const aheadMs = rounds * args.stepMs;
  if (!args.realtime && aheadMs > 50 * 60_000) {
    log.warn({ aheadMin: Math.round(aheadMs / 60_000) }, 'Sim time will run far ahead of the wall clock: a pipeline refuses readings over 1 h in its future (ingest.maxFutureSkewMs); use --realtime or fewer rounds');
  }

  if (args.registryOut) {
    const file = resolve(args.registryOut);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(scenarioRegistry(scenario, fleet), null, 2)}\n`);
    log.info({ file, devices: fleet.devices.length }, 'Registry written');
  }

  const simulation = new Simulation({ url: args.url, fleet, scenario, log, seqStart: args.seqStart, gatewayPasswords });
  const interrupt = (): void => {
    log.warn('Interrupted: finishing the round in progress');
    simulation.stop();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  log.info({ scenario: scenario.name, gateways: args.gateways, devices: args.devices, rounds, rate: args.rate, stepMs: args.stepMs, seed: args.seed }, 'Simulation starting');
  try {
    await simulation.connect();
  } catch (err) {
    log.error({ err }, 'Could not connect the gateways');
    return 1;
  }
  let report;
  try {
    report = await simulation.run({ rounds, rate: args.rate, realtime: args.realtime });
  } finally {
    await simulation.close();
  }
  const summary = {
    ...report,
    seed: args.seed,
    url: args.url,
    expected: simulation.expected,
    expectedRejects: simulation.expectedRejects,
    plan: {
      rounds: scenario.rounds,
      faults: scenario.faults.map(({ deviceId, gatewayId, label, fromRound, toRound }) => ({ deviceId, gatewayId, label, fromRound, toRound })),
      actions: scenario.actions.map((a) => ({ type: a.type, round: a.round, gatewayId: a.gatewayId, ...(a.type === 'malformed' ? { what: a.what } : {}) })),
    },
  };
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`simulate: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
