import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ProcessorSnapshot, SnapshotStore } from './processor-stage.ts';

/** Processor snapshots in one JSON file, replaced atomically (write then rename) so a crash never leaves half a file. */
export class SnapshotFile implements SnapshotStore {
  constructor(private readonly file: string) {}

  async load(): Promise<ProcessorSnapshot | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const parsed = JSON.parse(text) as ProcessorSnapshot;
    return parsed.version === 1 ? parsed : undefined;
  }

  async save(snapshot: ProcessorSnapshot): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, JSON.stringify(snapshot));
    await rename(tmp, this.file);
  }
}
