import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { HistoryStore } from './history-store.ts';

/**
 * The readings history on disk (`DATA_DIR/history.bin`), so a restart keeps the week of charts.
 * Binary, little-endian: `GASHIST1`, then per device `u16 id length, id (UTF-8), u8 kind, u32
 * points, points × (time, status, values…) as f64`, then a JSON trailer (status token sets),
 * its `u32` length and `GASHIST1` again, which marks a complete file. The file is about the
 * store's own size, so maxBytes bounds it too.
 *
 * Saved in slices: devices are encoded into 1 MiB chunks for at most `sliceMs` at a time, and
 * each chunk is written before the next is encoded, so alarms and sockets wait at most about
 * `sliceMs` behind a save. Written to a temporary file and renamed: a crash leaves the old one.
 */

const MAGIC = Buffer.from('GASHIST1', 'latin1');
const CHUNK_BYTES = 1 << 20;
const VERSION = 1;

interface Trailer {
  version: number;
  devices: number;
  statusSets: string[][];
}

export interface HistoryFileResult {
  devices: number;
  bytes: number;
  ms: number;
}

export class HistoryFile {
  constructor(
    readonly file: string,
    private readonly sliceMs = 4,
  ) {}

  async save(store: HistoryStore): Promise<HistoryFileResult> {
    const started = performance.now();
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const out = await open(tmp, 'w');
    let bytes = 0;
    let devices = 0;
    try {
      let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      MAGIC.copy(chunk, 0);
      let at = MAGIC.length;
      const flush = async () => {
        await out.write(chunk, 0, at);
        bytes += at;
        at = 0;
      };
      let sliceStart = performance.now();
      for (const [deviceId, data] of store.devices()) {
        const kind = data[0]!;
        const count = data[1]!;
        const numbers = count * store.strideOf(kind);
        const idBytes = Buffer.byteLength(deviceId);
        const size = 2 + idBytes + 1 + 4 + numbers * 8;
        if (at + size > chunk.length) {
          await flush();
          sliceStart = performance.now();
          if (size > chunk.length) chunk = Buffer.allocUnsafe(size);
        }
        at = chunk.writeUInt16LE(idBytes, at);
        at += chunk.write(deviceId, at, 'utf8');
        at = chunk.writeUInt8(kind, at);
        at = chunk.writeUInt32LE(count, at);
        for (let i = 0; i < numbers; i++) at = chunk.writeDoubleLE(data[2 + i]!, at);
        devices++;
        if (performance.now() - sliceStart >= this.sliceMs) {
          await flush();
          sliceStart = performance.now();
        }
      }
      await flush();
      const trailer: Trailer = { version: VERSION, devices, statusSets: store.statusSets().map((s) => [...s]) };
      const json = Buffer.from(JSON.stringify(trailer), 'utf8');
      const tail = Buffer.alloc(4);
      tail.writeUInt32LE(json.length);
      await out.write(Buffer.concat([json, tail, MAGIC]));
      bytes += json.length + 4 + MAGIC.length;
    } finally {
      await out.close();
    }
    await rename(tmp, this.file);
    return { devices, bytes, ms: performance.now() - started };
  }

  /**
   * Loads a saved history into `store` (before it takes readings); undefined when there is no
   * file. A file that is cut short or not this format is refused with an error naming it.
   */
  async load(store: HistoryStore): Promise<HistoryFileResult | undefined> {
    const started = performance.now();
    let buf: Buffer;
    try {
      buf = await readFile(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const end = buf.length - MAGIC.length;
    if (buf.length < 2 * MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC) || !buf.subarray(end).equals(MAGIC)) {
      throw new Error(`${this.file} is not a complete readings history file`);
    }
    const trailerLength = buf.readUInt32LE(end - 4);
    const trailerStart = end - 4 - trailerLength;
    const trailer = JSON.parse(buf.toString('utf8', trailerStart, end - 4)) as Trailer;
    if (trailer.version !== VERSION) throw new Error(`${this.file}: history file version ${trailer.version}, this build reads ${VERSION}`);
    store.restoreStatusSets(trailer.statusSets);
    let at = MAGIC.length;
    let devices = 0;
    let records: number[] = [];
    let sliceStart = performance.now();
    while (at < trailerStart) {
      const idBytes = buf.readUInt16LE(at);
      const deviceId = buf.toString('utf8', at + 2, at + 2 + idBytes);
      at += 2 + idBytes;
      const kind = buf.readUInt8(at);
      const count = buf.readUInt32LE(at + 1);
      at += 5;
      const stride = store.strideOf(kind);
      if (stride === 0) throw new Error(`${this.file}: device ${deviceId} has unknown kind ${kind}`);
      const numbers = count * stride;
      records.length = numbers;
      for (let i = 0; i < numbers; i++, at += 8) records[i] = buf.readDoubleLE(at);
      store.restoreDevice(deviceId, kind, records);
      devices++;
      if (performance.now() - sliceStart >= this.sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
        records = [];
      }
    }
    if (at !== trailerStart || devices !== trailer.devices) throw new Error(`${this.file}: ${devices} devices read, the trailer says ${trailer.devices}`);
    return { devices, bytes: buf.length, ms: performance.now() - started };
  }
}
