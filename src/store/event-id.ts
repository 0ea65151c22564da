import { randomFillSync } from 'node:crypto';
import { decodeTime, encodeTime, incrementBase32 } from 'ulid';

/**
 * `evt_` + a 26-character Crockford base32 ULID that this server could have issued: the first
 * character is 0-7, since a ULID's 48-bit timestamp ends at `7ZZZZZZZZZ` (year 10889); anything
 * above it (`evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ`) is not a ULID at all.
 */
export const EVENT_ID_PATTERN = /^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const PREFIX = 'evt_';
const RANDOM_ZEROS = '0'.repeat(16);
const RANDOM_MAX = 'Z'.repeat(16);

/** True when `value` is an event id the server could have issued (see EVENT_ID_PATTERN). */
export function isEventId(value: string): boolean {
  return EVENT_ID_PATTERN.test(value);
}

/** The log time (ms since the epoch) encoded in an event id. */
export function timeOfId(id: string): number {
  return decodeTime(id.slice(PREFIX.length));
}

/** The smallest possible id logged at or after `time`: `id >= idLowerBoundAt(t)` iff the event's time >= t. */
export function idLowerBoundAt(time: Date | number): string {
  return PREFIX + encodeTime(clampTime(time)) + RANDOM_ZEROS;
}

/** The largest possible id logged at or before `time`: `id <= idUpperBoundAt(t)` iff the event's time <= t. */
export function idUpperBoundAt(time: Date | number): string {
  return PREFIX + encodeTime(clampTime(time)) + RANDOM_MAX;
}

function clampTime(time: Date | number): number {
  const ms = typeof time === 'number' ? time : time.getTime();
  // ULID time is 48 bits; clamp so that absurd but syntactically valid dates stay comparable.
  return Math.min(Math.max(Math.floor(ms), 0), 2 ** 48 - 1);
}

/**
 * Makes strictly increasing event ids. The timestamp is `max(now, last id's time)`, so a clock
 * that steps back never produces a smaller id; within one millisecond the random part is
 * incremented (ULID monotonic mode). Seed it with the newest stored id when a log is reopened.
 */
export class EventIdGenerator {
  private lastTime = -1;
  private lastRandom = '';

  constructor(lastId?: string, private readonly now: () => number = Date.now) {
    if (lastId !== undefined) this.observe(lastId);
  }

  /** Raises the floor to `id` (e.g. an id assigned by another node); the next id is greater. */
  observe(id: string): void {
    const time = timeOfId(id);
    const random = id.slice(PREFIX.length + 10);
    if (time > this.lastTime || (time === this.lastTime && random > this.lastRandom)) {
      this.lastTime = time;
      this.lastRandom = random;
    }
  }

  /** The next id; strictly greater than every id produced or observed before. */
  next(): string {
    const now = this.now();
    if (now > this.lastTime) {
      this.lastTime = now;
      this.lastRandom = randomPart();
      return PREFIX + encodeTime(now) + this.lastRandom;
    }
    // Same millisecond (or the clock went back): keep the time, increment the random part.
    this.lastRandom = incrementBase32(this.lastRandom);
    return PREFIX + encodeTime(this.lastTime) + this.lastRandom;
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** Random bytes drawn 16 at a time (one per base32 character), refilled from the CSPRNG when used up. */
const pool = Buffer.allocUnsafe(4096);
let poolAt = pool.length;

/**
 * A ULID's random part: 16 Crockford base32 characters (80 bits) from the CSPRNG, as `ulid()`
 * makes them, but from a pooled buffer (one `randomFillSync` per 256 ids, not one per character).
 */
function randomPart(): string {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  let out = '';
  // 256 is a multiple of 32, so the low 5 bits of a uniform byte are uniform.
  for (let i = 0; i < 16; i++) out += CROCKFORD[pool[poolAt + i]! & 31];
  poolAt += 16;
  return out;
}
