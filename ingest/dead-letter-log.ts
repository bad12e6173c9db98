import { appendFileSync, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DeadLetter, RejectReason } from '../contracts/messages.ts';

export interface DeadLetterLogOptions {
  /** Newest dead letters kept in memory for the API. */
  capacity: number;
  /** JSON-lines file the log appends to; rotated once to `<file>.1` when over `maxFileBytes`. Omit to keep memory only. */
  file?: string;
  maxFileBytes: number;
}

/**
 * The bounded dead-letter log: every rejected message or reading with its reason. A ring buffer
 * for the API and a size-capped JSON-lines file for later inspection; old entries fall off the end,
 * but the per-reason counters in `/metrics` never forget.
 */
export class DeadLetterLog {
  readonly #ring: Array<DeadLetter | undefined>;
  #next = 0;
  #size = 0;
  #fileBytes = 0;

  constructor(readonly options: DeadLetterLogOptions) {
    this.#ring = new Array(options.capacity);
    if (options.file) {
      mkdirSync(dirname(options.file), { recursive: true });
      this.#fileBytes = existsSync(options.file) ? statSync(options.file).size : 0;
    }
  }

  append(letters: readonly DeadLetter[]): void {
    if (letters.length === 0) return;
    let lines = '';
    for (const letter of letters) {
      this.#ring[this.#next] = letter;
      this.#next = (this.#next + 1) % this.options.capacity;
      if (this.#size < this.options.capacity) this.#size++;
      if (this.options.file) lines += `${JSON.stringify(letter)}\n`;
    }
    if (this.options.file) this.#write(this.options.file, lines);
  }

  #write(file: string, lines: string): void {
    if (this.#fileBytes > 0 && this.#fileBytes + lines.length > this.options.maxFileBytes) {
      renameSync(file, `${file}.1`);
      this.#fileBytes = 0;
    }
    appendFileSync(file, lines);
    this.#fileBytes += Buffer.byteLength(lines);
  }

  /** Newest first, optionally of one reason. */
  list(limit: number, reason?: RejectReason): DeadLetter[] {
    const out: DeadLetter[] = [];
    for (let i = 1; i <= this.#size && out.length < limit; i++) {
      const letter = this.#ring[(this.#next - i + this.options.capacity) % this.options.capacity]!;
      if (reason === undefined || letter.reason === reason) out.push(letter);
    }
    return out;
  }

  get size(): number {
    return this.#size;
  }
}
