/**
 * A push-to-pull bridge: producers `push()` items and `end()`/`fail()`; one consumer pulls them
 * with `next()`. Unbounded, because a WebSocket cannot be paused from the browser API; the SSE
 * transport does not use it and reads only as fast as the consumer pulls.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  private error: unknown;
  private failed = false;

  /** Queues an item, or hands it to a waiting `next()`. Ignored after `end()`/`fail()`. */
  push(item: T): void {
    if (this.done) return;
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: item, done: false });
    } else this.items.push(item);
  }

  /** Ends the queue once the queued items are consumed. Safe to call twice. */
  end(): void {
    if (this.done) return;
    this.done = true;
    if (this.waiting && this.items.length === 0) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /** Ends the queue with an error, thrown by `next()` once the queued items are consumed. */
  fail(error: unknown): void {
    if (this.done) return;
    this.failed = true;
    this.error = error;
    this.done = true;
    if (this.waiting && this.items.length === 0) {
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(error);
    }
  }

  /** The next item; `{done: true}` after `end()`; throws after `fail()`. One caller at a time. */
  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.done) return this.failed ? Promise.reject(this.error) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }
}
