import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DeviceSnapshot } from './device-engine.ts';
import type { ProcessorSnapshot, SnapshotStore } from './processor-stage.ts';

export interface SnapshotFileOptions {
  /**
   * Most devices serialised between two writes.
   * @defaultValue 2000
   */
  devicesPerWrite?: number;
  /**
   * Longest a save serialises before it writes what it has, ms. Each write goes to the thread pool
   * and the save carries on when it is done, on a later turn of the event loop, so timers and
   * sockets (an alarm's push) wait at most about this long behind a save.
   * @defaultValue 4
   */
  sliceMs?: number;
}

const DEFAULTS = { devicesPerWrite: 2_000, sliceMs: 4 } satisfies Required<SnapshotFileOptions>;

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
    private readonly options: SnapshotFileOptions = {},
  ) {}

  async load(): Promise<ProcessorSnapshot | undefined> {
    return (await this.#read(this.file)) ?? (this.legacyFile ? this.#read(this.legacyFile) : undefined);
  }

  async #read(file: string): Promise<ProcessorSnapshot | undefined> {
    let text: AsyncIterable<string>;
    try {
      const handle = await open(file, 'r');
      text = handle.createReadStream({ encoding: 'utf8' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let header: (Omit<ProcessorSnapshot, 'version' | 'devices'> & { version: number; devices?: DeviceSnapshot[] }) | undefined;
    const devices: DeviceSnapshot[] = [];
    const take = (line: string): void => {
      if (line === '' || line === '\r') return;
      if (header === undefined) header = JSON.parse(line);
      else devices.push(JSON.parse(line) as DeviceSnapshot);
    };
    // Split by hand, each 64 KiB read on a turn of its own: readline's promise per line took a
    // third of the time of a million-device restore. A line longer than a read (the single
    // document of version 1) is gathered in `partial` and joined once.
    const partial: string[] = [];
    for await (const piece of text) {
      let start = 0;
      for (let nl = piece.indexOf('\n'); nl !== -1; nl = piece.indexOf('\n', start)) {
        if (partial.length > 0) {
          partial.push(piece.slice(start, nl));
          take(partial.join(''));
          partial.length = 0;
        } else {
          take(piece.slice(start, nl));
        }
        start = nl + 1;
      }
      if (start < piece.length) partial.push(start === 0 ? piece : piece.slice(start));
    }
    if (partial.length > 0) take(partial.join(''));
    if (header === undefined) return undefined;
    if (header.version === 1) return header as ProcessorSnapshot;
    if (header.version !== 2) return undefined;
    return { version: 1, takenAtMs: header.takenAtMs, gateways: header.gateways, devices };
  }

  async save(snapshot: ProcessorSnapshot): Promise<void> {
    const devicesPerWrite = this.options.devicesPerWrite ?? DEFAULTS.devicesPerWrite;
    const sliceMs = this.options.sliceMs ?? DEFAULTS.sliceMs;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const out = await open(tmp, 'w');
    try {
      await out.write(`${JSON.stringify({ version: 2, takenAtMs: snapshot.takenAtMs, gateways: snapshot.gateways })}\n`);
      // A slice ends at a write: the next device is taken (and serialised) only once the write is
      // done, on a later turn of the loop. `snapshot.devices` builds each device's snapshot as it is
      // taken, so that work falls inside the slice it is timed against.
      let chunk = '';
      let inChunk = 0;
      let sliceStartedAt = performance.now();
      for (const device of snapshot.devices) {
        chunk += `${JSON.stringify(device)}\n`;
        if (++inChunk >= devicesPerWrite || performance.now() - sliceStartedAt >= sliceMs) {
          await out.write(chunk);
          chunk = '';
          inChunk = 0;
          sliceStartedAt = performance.now();
        }
      }
      if (chunk !== '') await out.write(chunk);
    } finally {
      await out.close();
    }
    await rename(tmp, this.file);
  }
}
