import { describe, expect, it } from 'vitest';
import { ConfigError } from '../app/errors.ts';
import { kafkaBusOptionsFromEnv, parseKafkaBusOptions, type KafkaBusOptionsInput } from './kafka-options.ts';

describe('Kafka bus options', () => {
  it('fills defaults', () => {
    expect(parseKafkaBusOptions({ brokers: ['127.0.0.1:29092'] })).toMatchObject({ clientId: 'gas-pipeline', partitions: 6, topicPrefix: '', compression: 'none' });
  });

  it.each<[string, unknown]>([
    ['no brokers', { brokers: [] }],
    ['zero partitions', { brokers: ['a:1'], partitions: 0 }],
    ['a session shorter than the broker minimum', { brokers: ['a:1'], sessionTimeoutMs: 1000 }],
    ['an unknown option', { brokers: ['a:1'], linger: 5 }],
    ['an unknown compression', { brokers: ['a:1'], compression: 'snappy' }],
  ])('refuses %s', (_, raw) => {
    expect(() => parseKafkaBusOptions(raw as KafkaBusOptionsInput)).toThrow(ConfigError);
  });

  it('reads the environment', () => {
    expect(kafkaBusOptionsFromEnv({ KAFKA_BROKERS: 'a:1, b:2', KAFKA_PARTITIONS: '12', KAFKA_TOPIC_PREFIX: 'x.' })).toMatchObject({
      brokers: ['a:1', 'b:2'],
      partitions: 12,
      topicPrefix: 'x.',
    });
    expect(() => kafkaBusOptionsFromEnv({})).toThrow(/KAFKA_BROKERS/);
    expect(() => kafkaBusOptionsFromEnv({ KAFKA_BROKERS: 'a:1', KAFKA_PARTITIONS: 'six' })).toThrow(ConfigError);
  });
});
