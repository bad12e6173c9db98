import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { ConfigError } from '../app/errors.ts';

export const KafkaBusOptionsSchema = Type.Object(
  {
    brokers: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'bootstrap brokers, host:port' }),
    clientId: Type.String({ minLength: 1, default: 'gas-pipeline', description: 'Kafka client id, shown in broker logs and quotas' }),
    partitions: Type.Integer({
      minimum: 1,
      default: 6,
      description: 'partitions of every topic created on start; readings and processor state must match so a device keeps one partition number',
    }),
    replicationFactor: Type.Integer({ minimum: -1, default: -1, description: 'replicas of created topics; -1 takes the broker default' }),
    topicPrefix: Type.String({ default: '', description: 'prepended to every topic name, e.g. `staging.`' }),
    compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], { default: 'none', description: 'producer compression' }),
    sessionTimeoutMs: Type.Integer({ minimum: 6000, default: 30000, description: 'consumer session: how long a dead instance keeps its partitions' }),
    heartbeatIntervalMs: Type.Integer({ minimum: 100, default: 3000, description: 'consumer heartbeat, also sent while a handler runs' }),
    maxHandlerBatch: Type.Integer({ minimum: 1, default: 2000, description: 'most messages handed to a handler at once (a readings record carries many), and between turns of the event loop; offsets are resolved per handler call' }),
    retryBackoffMaxMs: Type.Integer({ minimum: 10, default: 5000, description: 'longest wait before a failed handler gets its messages again' }),
    connectionTimeoutMs: Type.Integer({ minimum: 100, default: 3000 }),
  },
  { additionalProperties: false },
);
export type KafkaBusOptions = Static<typeof KafkaBusOptionsSchema>;
/** What a caller writes: everything but the brokers has a default. */
export type KafkaBusOptionsInput = Partial<KafkaBusOptions> & Pick<KafkaBusOptions, 'brokers'>;

const check = TypeCompiler.Compile(KafkaBusOptionsSchema);

/** Fills defaults and validates; a bad option is a ConfigError at start. */
export function parseKafkaBusOptions(raw: KafkaBusOptionsInput): KafkaBusOptions {
  const value = Value.Default(KafkaBusOptionsSchema, Value.Clone(raw));
  const first = check.Errors(value).First();
  if (first) throw new ConfigError(`Kafka bus option ${first.path || '/'}: ${first.message}`);
  return value as KafkaBusOptions;
}

/** Integer settings read from the environment, with the option each fills. */
const INTEGER_ENV = {
  KAFKA_PARTITIONS: 'partitions',
  KAFKA_SESSION_TIMEOUT_MS: 'sessionTimeoutMs',
  KAFKA_HEARTBEAT_INTERVAL_MS: 'heartbeatIntervalMs',
} as const;

/**
 * KAFKA_BROKERS (comma-separated, required), KAFKA_CLIENT_ID, KAFKA_TOPIC_PREFIX, KAFKA_COMPRESSION,
 * KAFKA_PARTITIONS, KAFKA_SESSION_TIMEOUT_MS, KAFKA_HEARTBEAT_INTERVAL_MS.
 */
export function kafkaBusOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): KafkaBusOptions {
  const brokers = (env.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter((b) => b.length > 0);
  if (brokers.length === 0) throw new ConfigError('KAFKA_BROKERS is required for the Kafka bus (host:port[,host:port…])');
  const raw: Record<string, unknown> = { brokers };
  if (env.KAFKA_CLIENT_ID) raw.clientId = env.KAFKA_CLIENT_ID;
  if (env.KAFKA_TOPIC_PREFIX) raw.topicPrefix = env.KAFKA_TOPIC_PREFIX;
  if (env.KAFKA_COMPRESSION) raw.compression = env.KAFKA_COMPRESSION;
  for (const [name, option] of Object.entries(INTEGER_ENV)) {
    const text = env[name];
    if (!text) continue;
    const n = Number(text);
    if (!Number.isInteger(n)) throw new ConfigError(`${name}=${text} is not an integer`);
    raw[option] = n;
  }
  return parseKafkaBusOptions(raw as KafkaBusOptionsInput);
}
