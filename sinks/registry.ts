import { HistoryPlugin } from './history/index.ts';
import type { SinkPlugin } from './sink.ts';

/**
 * Sinks declared as plugins, by name: one folder each under sinks/ with code, tests and a README.
 * (The InfluxDB sink predates this shape; app/pipeline.ts starts it from INFLUX_* directly.)
 */
export const SINKS = {
  history: HistoryPlugin,
} as const satisfies Record<string, SinkPlugin<any, any>>;
