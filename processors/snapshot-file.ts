import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { DeviceSnapshot } from './device-engine.ts';
import type { ProcessorSnapshot, SnapshotStore } from './processor-stage.ts';

/** Devices serialised between two writes: each write lets the readings in, so a save never stalls them for long. */
const DEVICES_PER_WRITE = 2_000;

/**
 * Processor snapshots as JSON lines: a header (time taken, gateways), then one device per line.
 * Written in chunks while the pipeline runs, because a million devices in one JSON document would
 * stall the event loop for seconds and overrun V8's longest string. Replaced atomically (write,
 * then rename) so a crash never leaves half a file. A snapshot of the older single-document form
 * (version 1) still loads.
 */
export class SnapshotFile implements SnapshotStore {
  constructor(
    private readonly file: string,
    /** Where versions before the JSON-lines form kept their single document, read when `file` is absent. */
    private readonly legacyFile?: string,
  ) {}

  async load(): Promise<ProcessorSnapshot | undefined> {
    return (await this.#read(this.file)) ?? (this.legacyFile ? this.#read(this.legacyFile) : undefined);
  }

  async #read(file: string): Promise<ProcessorSnapshot | undefined> {
    let lines: AsyncIterable<string>;
    try {
      const handle = await open(file, 'r');
      lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8' }), crlfDelay: Infinity });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let header: (Omit<ProcessorSnapshot, 'version' | 'devices'> & { version: number; devices?: DeviceSnapshot[] }) | undefined;
    const devices: DeviceSnapshot[] = [];
    for await (const line of lines) {
      if (line === '') continue;
      if (header === undefined) header = JSON.parse(line);
      else devices.push(JSON.parse(line) as DeviceSnapshot);
    }
    if (header === undefined) return undefined;
    if (header.version === 1) return header as ProcessorSnapshot;
    if (header.version !== 2) return undefined;
    return { version: 1, takenAtMs: header.takenAtMs, gateways: header.gateways, devices };
  }

  async save(snapshot: ProcessorSnapshot): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const out = await open(tmp, 'w');
    try {
      await out.write(`${JSON.stringify({ version: 2, takenAtMs: snapshot.takenAtMs, gateways: snapshot.gateways })}\n`);
      let chunk = '';
      let inChunk = 0;
      for (const device of snapshot.devices) {
        chunk += `${JSON.stringify(device)}\n`;
        if (++inChunk === DEVICES_PER_WRITE) {
          await out.write(chunk);
          chunk = '';
          inChunk = 0;
        }
      }
      if (chunk !== '') await out.write(chunk);
    } finally {
      await out.close();
    }
    await rename(tmp, this.file);
  }
}
