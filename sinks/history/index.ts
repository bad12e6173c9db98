import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sink, SinkPlugin } from '../sink.ts';
import { HistoryFile } from './history-file.ts';
import { HistoryStore } from './history-store.ts';
import { HistorySettingsSchema, type HistorySettings } from './options.ts';
import type { ReadingsHistory } from './readings-history.ts';

export const HISTORY_FILE = 'history.bin';

/** The running local history: the store, the API's view of it, and its save and sweep. */
export interface HistorySink extends Sink {
  store: HistoryStore;
  readings: ReadingsHistory;
  /** Saves now (also on the timer and at stop); resolves when the file is replaced. */
  save(): Promise<void>;
  sweep(): Promise<void>;
}

/**
 * The local readings history as a sink: consumes readings (group `history`) into a HistoryStore,
 * loads DATA_DIR/history.bin at start and saves it every `saveIntervalMs` and at stop, and sweeps
 * every `sweepIntervalMs`. See README.md.
 */
export const HistoryPlugin: SinkPlugin<typeof HistorySettingsSchema, HistorySink> = {
  name: 'history',
  description: 'Bounded per-device readings history for the device page, in memory and DATA_DIR/history.bin',
  configSchema: HistorySettingsSchema,
  async start(config: HistorySettings, { bus, dataDir, log }) {
    let store = new HistoryStore(config);
    const file = config.persist ? new HistoryFile(join(dataDir, HISTORY_FILE), config.sliceMs) : undefined;
    if (file) {
      try {
        const loaded = await file.load(store);
        if (loaded) log.info({ devices: loaded.devices, bytes: loaded.bytes, ms: Math.round(loaded.ms) }, 'Readings history loaded');
      } catch (err) {
        // History is a convenience, not a record: start empty, but keep the file for whoever looks into it.
        const aside = `${file.file}.unreadable`;
        log.error({ err, file: file.file, movedTo: aside }, 'Readings history file unreadable: starting empty');
        await rename(file.file, aside).catch(() => undefined);
        store = new HistoryStore(config);
      }
    }
    bus.readings.consume('history', (readings) => store.append(readings), { fetch: 'bulk' });

    // One save and one sweep at a time; a timer that fires while one runs is skipped.
    let saving: Promise<void> | undefined;
    let sweeping: Promise<void> | undefined;
    const save = (): Promise<void> => {
      if (!file) return Promise.resolve();
      saving ??= file.save(store).then(
        (r) => log.debug({ devices: r.devices, bytes: r.bytes, ms: Math.round(r.ms) }, 'Readings history saved'),
        (err: unknown) => log.error({ err, file: file.file }, 'Readings history not saved'),
      ).finally(() => (saving = undefined));
      return saving;
    };
    const sweep = (): Promise<void> => {
      sweeping ??= store.sweep(config.sliceMs).catch((err: unknown) => log.error({ err }, 'Readings history sweep failed')).finally(() => (sweeping = undefined));
      return sweeping;
    };
    const saveTimer = file ? setInterval(() => void save(), config.saveIntervalMs) : undefined;
    saveTimer?.unref();
    const sweepTimer = setInterval(() => void sweep(), config.sweepIntervalMs);
    sweepTimer.unref();

    return {
      store,
      readings: {
        async query(q) {
          return store.query(q.deviceId, q.fromMs, q.toMs, q.limit) ?? { source: 'local', bucketMs: null, points: [] };
        },
        kindOf: (deviceId) => store.kindOf(deviceId),
      },
      save,
      sweep,
      async stop() {
        clearInterval(saveTimer);
        clearInterval(sweepTimer);
        await sweeping;
        await saving;
        await save();
      },
    };
  },
};
