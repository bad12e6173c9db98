/**
 * A private, anonymous Mosquitto for benchmarks: Debian's broker on a free loopback port with a
 * temporary config, no persistence, stopped (and its directory removed) by `stop()` or, failing
 * that, when this process exits. Unlike `scripts/services.sh start mosquitto` it has no users or
 * ACL, so a benchmark's many simulated gateways can connect without credentials.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../tests/support.ts';

/** Debian's broker, as `scripts/services.sh start mosquitto` installs it; `MOSQUITTO_BIN` overrides. */
export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';

export function mosquittoInstalled(bin = MOSQUITTO_BIN): boolean {
  return existsSync(bin);
}

/** E.g. `2.0.11`, from the banner `mosquitto -h` prints; undefined when it cannot be read. */
export function mosquittoVersion(bin = MOSQUITTO_BIN): string | undefined {
  const { stdout } = spawnSync(bin, ['-h'], { encoding: 'utf8', timeout: 5000 });
  return /mosquitto version (\S+)/.exec(stdout ?? '')?.[1];
}

/** Stock Mosquitto in flight and no queue limit: a slow subscriber is measured with its backlog kept, not dropped. */
export const UNBOUNDED_QUEUE = { maxInflightMessages: 20, maxQueuedMessages: 0 } as const;

export interface MosquittoOptions {
  /** @defaultValue a free loopback port */
  port?: number;
  /** @defaultValue {@link MOSQUITTO_BIN} */
  bin?: string;
  /**
   * QoS 1/2 messages in flight to one subscriber; Mosquitto's stock value.
   * @defaultValue 20
   */
  maxInflightMessages?: number;
  /**
   * QoS 1/2 messages queued per subscriber beyond those in flight; 0 is no limit. Stock Mosquitto
   * keeps 1000 and drops the rest, which would make a slow subscriber lose a benchmark's backlog.
   * @defaultValue 0
   */
  maxQueuedMessages?: number;
  /** @defaultValue 5000 */
  startTimeoutMs?: number;
}

export interface Mosquitto {
  url: string;
  port: number;
  pid: number;
  /** The config file written for this broker. */
  config: string;
  /** Broker log lines so far (it logs to stderr), for an error message. */
  log(): string;
  stop(): Promise<void>;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const bin = options.bin ?? MOSQUITTO_BIN;
  if (!mosquittoInstalled(bin)) throw new Error(`${bin} not found: run \`bash scripts/services.sh start mosquitto\` (installs it) or apt-get install mosquitto`);
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gas-bench-mosquitto-'));
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(config, [
    // Started as root, Mosquitto would switch to the `mosquitto` user, which cannot read this 0700 directory.
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `max_inflight_messages ${options.maxInflightMessages ?? 20}`,
    `max_queued_messages ${options.maxQueuedMessages ?? 0}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    '',
  ].join('\n'));

  const child = spawn(bin, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    log = (log + chunk).slice(-20_000);
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited(child);
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopped;
  };

  try {
    const deadline = Date.now() + (options.startTimeoutMs ?? 5000);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`Mosquitto exited at start (${child.exitCode ?? child.signalCode}): ${log.trim()}`);
      if (await portOpen(port)) break;
      if (Date.now() > deadline) throw new Error(`Mosquitto not listening on 127.0.0.1:${port} after ${options.startTimeoutMs ?? 5000} ms: ${log.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `mqtt://127.0.0.1:${port}`, port, pid: child.pid!, config, log: () => log, stop };
}
