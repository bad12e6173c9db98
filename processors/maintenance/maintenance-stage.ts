import type { DeviceRecords } from '../../contracts/device-record.ts';
import type { AlertEvent } from '../../contracts/messages.ts';
import type { Clock } from '../../app/clock.ts';
import type { Logger } from 'pino';
import { MaintenanceWatch, type MaintenanceSettings } from './maintenance-watch.ts';

export interface MaintenanceStage {
  readonly watch: MaintenanceWatch;
  /** One check now (the timer calls it; tests may too). */
  check(): Promise<void>;
  stop(): void;
}

/**
 * Runs the MaintenanceWatch beside the alert book: scheduled from the registry (every record at
 * start, each record again when it changes), seeded with the MAINTENANCE_DUE alerts the book holds
 * active, checked every `checkIntervalMs` on the injected clock, its events published like a detector's.
 */
export function startMaintenance(input: {
  settings: MaintenanceSettings;
  registry: DeviceRecords;
  activeDeviceIds: Iterable<string>;
  publish: (events: AlertEvent[]) => Promise<void>;
  clock: Clock;
  log: Logger;
}): MaintenanceStage {
  const { settings, registry, publish, clock, log } = input;
  const watch = new MaintenanceWatch(settings);
  watch.seedActive(input.activeDeviceIds);
  // Events go out in the order they were made: a clear never overtakes the raise it answers.
  let chain: Promise<void> = Promise.resolve();
  const send = (out: AlertEvent[]): Promise<void> => {
    if (out.length === 0) return chain;
    chain = chain.then(() => publish(out)).catch((err: unknown) => log.error({ err }, 'Publishing maintenance alerts failed'));
    return chain;
  };
  const initial: AlertEvent[] = [];
  for (const record of registry.records()) watch.update(record.deviceId, record, clock.now(), initial);
  void send(initial);
  registry.onChange((deviceId) => {
    const out: AlertEvent[] = [];
    watch.update(deviceId, registry.get(deviceId), clock.now(), out);
    void send(out);
  });
  const check = (): Promise<void> => {
    const out: AlertEvent[] = [];
    watch.check(clock.now(), out);
    return send(out);
  };
  const timer = setInterval(() => void check(), settings.checkIntervalMs);
  timer.unref();
  void check();
  return { watch, check, stop: () => clearInterval(timer) };
}
