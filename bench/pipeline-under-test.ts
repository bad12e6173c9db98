/**
 * The pipeline under test in a process of its own, so that a benchmark's load generator and
 * probes do not share its event loop or its CPU accounting.
 *
 *   node --import tsx bench/pipeline-under-test.ts '<PipelineUnderTestConfig as JSON>'
 *
 * starts `startPipeline` with that config (`settings` is the raw settings file, defaults filled in
 * here; ports 0 are picked by the system), logs to stderr and, once every stage runs, prints one
 * line `PIPELINE_UNDER_TEST {"pid","httpUrl","mqttUrl","adminToken"}` on stdout. SIGTERM or SIGINT
 * stops it cleanly, and so does the end of its stdin when started from code (the parent died).
 *
 * From code: `startPipelineUnderTest(config)` spawns it and resolves with the URLs and a `stop()`;
 * `cpuSecondsOf(pid)` (bench/common.ts, re-exported here) reads any process's CPU time for CPU% figures.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseSettings, type PipelineConfig } from '../app/config.ts';
import { createLogger } from '../app/logging.ts';
import { PIPELINE_NODE_FLAGS } from '../app/node-flags.ts';
import { startPipeline } from '../app/pipeline.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY = 'PIPELINE_UNDER_TEST ';
/** Set by startPipelineUnderTest: the child stops when its stdin ends, i.e. when the parent is gone. */
const WATCH_STDIN = 'PIPELINE_UNDER_TEST_WATCH_STDIN';

/** A PipelineConfig as JSON: the settings file as written (defaults are filled in by the child). */
export type PipelineUnderTestConfig = Omit<PipelineConfig, 'settings'> & { settings?: unknown };

export interface PipelineUnderTest {
  pid: number;
  httpUrl: string;
  mqttUrl?: string;
  adminToken?: string;
  /** Resolves with the exit code (or signal) once the child has exited, whatever the reason. */
  exited: Promise<number | string | null>;
  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

interface ReadyLine {
  pid: number;
  httpUrl: string;
  mqttUrl?: string;
  adminToken?: string;
}

/**
 * Spawns the runner and resolves once the pipeline listens; rejects (and leaves no process
 * behind) if the child exits first or is not ready within `startTimeoutMs`.
 */
export async function startPipelineUnderTest(config: PipelineUnderTestConfig, options: { startTimeoutMs?: number } = {}): Promise<PipelineUnderTest> {
  const child = spawn(process.execPath, [...PIPELINE_NODE_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url), JSON.stringify(config)], {
    cwd: ROOT,
    env: { ...process.env, [WATCH_STDIN]: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 30_000): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      process.removeListener('exit', killOnExit);
    })();
    return stopping;
  };

  const lines = createInterface({ input: child.stdout! });
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = await new Promise<ReadyLine>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`pipeline under test not ready within ${options.startTimeoutMs ?? 120_000} ms`)), options.startTimeoutMs ?? 120_000);
      lines.on('line', (line) => {
        if (line.startsWith(READY)) resolve(JSON.parse(line.slice(READY.length)) as ReadyLine);
      });
      void exited.then((code) => reject(new Error(`pipeline under test exited (${code}) before it was ready`)));
    });
    return { ...ready, exited, stop };
  } catch (err) {
    await stop(5000);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export { cpuSecondsOf } from './common.ts';

async function runChild(json: string): Promise<void> {
  const raw = JSON.parse(json) as PipelineUnderTestConfig;
  const config: PipelineConfig = { ...raw, settings: parseSettings(raw.settings ?? {}, 'pipeline-under-test settings') };
  // stdout carries the ready line only.
  const log = createLogger(config.logLevel, process.stderr);
  const pipeline = await startPipeline(config, log);
  let stopping = false;
  const shutdown = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'Pipeline under test stopping');
    pipeline.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'Pipeline under test failed to stop');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  if (process.env[WATCH_STDIN]) {
    process.stdin.on('end', () => shutdown('parent gone'));
    process.stdin.resume();
  }
  const ready: ReadyLine = { pid: process.pid, httpUrl: pipeline.httpUrl, mqttUrl: pipeline.mqttUrl, adminToken: pipeline.adminToken };
  process.stdout.write(`${READY}${JSON.stringify(ready)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const json = process.argv[2];
  if (!json) {
    process.stderr.write("usage: node --import tsx bench/pipeline-under-test.ts '<config JSON>'\n");
    process.exit(2);
  }
  runChild(json).catch((err: unknown) => {
    process.stderr.write(`pipeline under test failed to start: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
