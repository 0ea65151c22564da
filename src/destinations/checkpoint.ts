/**
 * Where the forwarder remembers how far every destination has acknowledged the stream.
 */
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/**
 * A durable position in the stream: the id of the last event every destination acknowledged.
 * Implementations must make `save` durable before it resolves (a crash after it never loses the
 * position) and atomic (a crash during it leaves the previous position, never a torn one).
 */
export interface Checkpoint {
  /** The saved id, or undefined when nothing was saved yet. */
  load(): Promise<string | undefined>;
  /** Replaces the saved id; durable and atomic once it resolves. Calls are not concurrent. */
  save(id: string): Promise<void>;
}

/** A {@link Checkpoint} in memory: for tests, and for a forwarder that may start over. */
export class MemoryCheckpoint implements Checkpoint {
  #id: string | undefined;
  /** @param id the initial position, if any */
  constructor(id?: string) {
    this.#id = id;
  }
  async load(): Promise<string | undefined> {
    return this.#id;
  }
  async save(id: string): Promise<void> {
    this.#id = id;
  }
}

/**
 * A {@link Checkpoint} in a file holding `{"id":"…"}`. `save` writes a temporary file in the same
 * directory, fsyncs it, renames it over the file and fsyncs the directory, so the file always holds
 * a whole position, the old or the new one.
 */
export class FileCheckpoint implements Checkpoint {
  /** The checkpoint file. */
  readonly path: string;
  /** @param path the checkpoint file; its directory is created if missing */
  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('FileCheckpoint: `path` is required');
    this.path = path;
  }

  async load(): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as { id?: unknown };
    if (typeof parsed.id !== 'string') throw new Error(`checkpoint ${this.path} has no string "id"`);
    return parsed.id;
  }

  async save(id: string): Promise<void> {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true });
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.tmp`);
    const file = await open(temp, 'w');
    try {
      await file.writeFile(JSON.stringify({ id, savedAt: new Date().toISOString() }) + '\n');
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(temp, this.path);
    } catch (error) {
      await unlink(temp).catch(() => {});
      throw error;
    }
    // The rename is durable only once the directory entry is.
    const directory = await open(dir, 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}
