import { DeadLetterLog } from '../../ingest/dead-letter-log.ts';
import { DeviceRegistry } from '../../registry/device-registry.ts';
import { AlertBook } from '../alert-book.ts';
import type { ApiServices } from './server.ts';
import { TokenBook } from './tokens.ts';

/**
 * Test support: the services every API needs, empty (no alerts, devices, dead letters or tokens), for
 * tests that exercise one family of routes (a channel's provider callbacks, the ticket routes) and
 * add only the services those need.
 */
export function bareServices(): Pick<ApiServices, 'alerts' | 'registry' | 'devices' | 'deadLetters' | 'metrics' | 'tokens' | 'health'> {
  return {
    alerts: new AlertBook({ historyLimit: 100, compactAfterLines: 1000, fsync: false }),
    registry: new DeviceRegistry([]),
    devices: { statusOf: () => undefined },
    deadLetters: new DeadLetterLog({ capacity: 10, maxFileBytes: 1024 }),
    metrics: { text: async () => '' },
    tokens: new TokenBook(),
    health: () => ({ status: 'ok', checks: {} }),
  };
}
