import type { AlertEvent, Reading } from '../../contracts/messages.ts';
import type { InfluxWriter, InfluxWriterCounters } from './influx-writer.ts';
import { alertEventLine, appendReadingLines, type LineContext } from './line-protocol.ts';

/**
 * The readings and alert-event sink: builds lines once and hands them to one or more writers (e.g. a
 * v2 endpoint and an InfluxDB 1.x that serves InfluxQL). Its methods are consume handlers: they
 * resolve once every writer has buffered the lines, and wait while a writer's buffer is full, so
 * the bus acknowledges only what a writer holds.
 */
export class InfluxSink {
  private readonly writers: readonly InfluxWriter[];

  constructor(writers: InfluxWriter | readonly InfluxWriter[], private readonly ctx: LineContext = {}) {
    this.writers = Array.isArray(writers) ? writers : [writers as InfluxWriter];
  }

  async writeReadings(readings: readonly Reading[]): Promise<void> {
    const lines: string[] = [];
    for (const reading of readings) appendReadingLines(reading, lines, this.ctx);
    await this.writeLines(lines);
  }

  async writeAlertEvents(events: readonly AlertEvent[]): Promise<void> {
    const lines: string[] = [];
    for (const event of events) {
      const line = alertEventLine(event, this.ctx);
      if (line !== undefined) lines.push(line);
    }
    await this.writeLines(lines);
  }

  private async writeLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await Promise.all(this.writers.map((w) => w.write(lines)));
  }

  stats(): InfluxWriterCounters[] {
    return this.writers.map((w) => w.stats());
  }

  async flush(): Promise<void> {
    await Promise.all(this.writers.map((w) => w.flush()));
  }

  async close(): Promise<InfluxWriterCounters[]> {
    return Promise.all(this.writers.map((w) => w.close()));
  }
}
