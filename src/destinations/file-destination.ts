/**
 * NDJSON to a file (appended) or to stdout.
 */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { SpecstreamEvent } from '../generated/events.js';
import { batchingOf, type BatchingOptions, type Destination } from './destination.js';

/** Options of {@link FileDestination}. */
export interface FileDestinationOptions extends BatchingOptions {
  /** The file to append to (created with its directory if missing), or `'-'` for stdout. */
  path: string;
  /** Defaults to `file:<path>` (`stdout` for `'-'`). */
  name?: string;
}

/**
 * Writes each event as one JSON line. `send` appends; `flush` fsyncs the file (a no-op for stdout),
 * so an acknowledged batch survives a crash of the machine. Re-delivered events after a crash are
 * appended again: a reader de-duplicates by `id`. A line torn by a crash mid-write is ended with a
 * newline when the file is next opened, so it stays one unparseable line that a reader skips.
 */
export class FileDestination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly path: string;
  #file: FileHandle | undefined;
  #closed = false;

  /** @throws TypeError without `path` */
  constructor(options: FileDestinationOptions) {
    if (typeof options.path !== 'string' || options.path === '') throw new TypeError('FileDestination: `path` is required');
    this.path = options.path;
    this.name = options.name ?? (options.path === '-' ? 'stdout' : `file:${options.path}`);
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'FileDestination'));
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const text = events.map((event) => JSON.stringify(event) + '\n').join('');
    if (this.path === '-') {
      await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
      return;
    }
    if (!this.#file) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.#file = await open(this.path, 'a+');
      // A crash mid-write can leave a torn last line: end it, so the next event starts a line of its own.
      const { size } = await this.#file.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await this.#file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await this.#file.appendFile('\n');
      }
    }
    await this.#file.appendFile(text);
  }

  async flush(): Promise<void> {
    await this.#file?.sync();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const file = this.#file;
    this.#file = undefined;
    if (file) {
      await file.sync();
      await file.close();
    }
  }
}
