/**
 * Where the forwarder remembers how far each destination has acknowledged the stream.
 */
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

/** Per destination name, the id of the last event that destination acknowledged. */
export type Positions = Readonly<Record<string, string>>;

/**
 * The durable positions of a forwarder's destinations. Implementations must make `save` durable
 * before it resolves (a crash after it never loses a position) and atomic (a crash during it leaves
 * the previous positions, never a torn mix).
 */
export interface Checkpoint {
  /** The saved positions; `{}` when nothing was saved yet. */
  load(): Promise<Positions>;
  /** Replaces every saved position; durable and atomic once it resolves. Calls are not concurrent. */
  save(positions: Positions): Promise<void>;
}

/** Event ids are ULIDs: in log order they sort as strings. The smallest is the overall position. */
export function oldestPosition(positions: Positions): string | undefined {
  let oldest: string | undefined;
  for (const id of Object.values(positions)) if (oldest === undefined || id < oldest) oldest = id;
  return oldest;
}

/** A {@link Checkpoint} in memory: for tests, and for a forwarder that may start over. */
export class MemoryCheckpoint implements Checkpoint {
  #positions: Positions;
  /** @param positions the initial positions, if any */
  constructor(positions: Positions = {}) {
    this.#positions = { ...positions };
  }
  async load(): Promise<Positions> {
    return { ...this.#positions };
  }
  async save(positions: Positions): Promise<void> {
    this.#positions = { ...positions };
  }
}

/**
 * A {@link Checkpoint} in a file holding `{"positions": {"<destination>": "<id>", …}, "savedAt": …}`.
 * `save` writes a temporary file in the same directory, fsyncs it, renames it over the file and
 * fsyncs the directory, so the file always holds a whole set of positions, the old or the new one.
 */
export class FileCheckpoint implements Checkpoint {
  /** The checkpoint file. */
  readonly path: string;
  /** @param path the checkpoint file; its directory is created if missing */
  constructor(path: string) {
    if (typeof path !== 'string' || path === '') throw new TypeError('FileCheckpoint: `path` is required');
    this.path = path;
  }

  /** @throws Error when the file exists but does not hold positions (never silently starts over) */
  async load(): Promise<Positions> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    let parsed: { positions?: unknown };
    try {
      parsed = JSON.parse(text) as { positions?: unknown };
    } catch (error) {
      throw new Error(`checkpoint ${this.path} is not JSON`, { cause: error });
    }
    const positions = parsed.positions;
    if (typeof positions !== 'object' || positions === null || Array.isArray(positions) || !Object.values(positions).every((id) => typeof id === 'string')) {
      throw new Error(`checkpoint ${this.path} has no "positions" object of destination names to event ids`);
    }
    return positions as Positions;
  }

  async save(positions: Positions): Promise<void> {
    const dir = dirname(this.path);
    mkdirSync(dir, { recursive: true });
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.tmp`);
    const file = await open(temp, 'w');
    try {
      await file.writeFile(JSON.stringify({ positions, savedAt: new Date().toISOString() }) + '\n');
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
