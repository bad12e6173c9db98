import { configFromEnv } from './config.ts';
import { createLogger, redactUrl } from './logging.ts';
import { PipelineError } from './errors.ts';
import { startPipeline } from './pipeline.ts';

/** `npm start`: the whole pipeline in one process, on embedded defaults unless the environment says otherwise. */
async function main(): Promise<void> {
  const bootLog = createLogger(process.env.LOG_LEVEL || 'info');
  let config;
  try {
    config = configFromEnv();
  } catch (err) {
    bootLog.fatal({ err }, 'Refusing to start: bad configuration');
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  if (!config.httpTls && !/^(127\.|::1$|localhost$)/.test(config.httpHost)) {
    log.warn({ host: config.httpHost }, 'HTTP API without TLS on a non-loopback address: bearer tokens cross the network in clear unless a TLS proxy fronts it (HTTP_TLS_CERT / HTTP_TLS_KEY)');
  }
  const pipeline = await startPipeline(config, log);
  if (pipeline.adminTokenGenerated) {
    // Shown once, on the terminal only; it is stored under DATA_DIR for later starts.
    process.stdout.write(`\n  Admin API token (stored in ${config.dataDir}/admin-token):\n    ${pipeline.adminToken}\n\n`);
  }
  log.info({ role: pipeline.role, http: pipeline.httpUrl, mqtt: redactUrl(pipeline.mqttUrl), dataDir: config.dataDir, devicesInRegistry: pipeline.registry.size }, 'Pipeline running');

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'Stopping');
    pipeline.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'Stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    if (!pipeline.reloadGatewayCredentials) return log.info('SIGHUP: no gateway credentials to reload');
    try {
      pipeline.reloadGatewayCredentials();
    } catch (err) {
      log.error({ err }, 'Gateway credentials not reloaded; the previous ones stay in force');
    }
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const log = createLogger('info');
  log.fatal({ err, code: err instanceof PipelineError ? err.code : undefined }, 'Pipeline failed to start');
  process.exit(1);
});
