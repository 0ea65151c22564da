/**
 * Publishes each event to a NATS subject, through JetStream (acknowledged, de-duplicated by event
 * id) or core NATS. The message is the CloudEvents NATS protocol binding's structured mode
 * (https://github.com/cloudevents/spec/blob/main/cloudevents/bindings/nats-protocol-binding.md): the
 * payload is the whole envelope as JSON; `ce-` headers repeat the attributes for routing without parsing.
 *
 * The NATS client is imported on the first `send`, so loading `specstream/destinations` does not load it.
 */
import { readFileSync } from 'node:fs';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection, PermissionViolationError, QueuedIterator, Status } from '@nats-io/transport-node';
import type { GenericEnvelope, SpecstreamEvent } from '../generated/events.js';
import { batchingOf, isRetryableStatus, PermanentError, RetryableError, type BatchingOptions, type Destination } from './destination.js';

/** Options of {@link NatsDestination}. Everything but `connection` is plain JSON. */
export interface NatsDestinationOptions extends BatchingOptions {
  /** The subject, where `{type}` is replaced by the event's type. Defaults to `specstream.{type}` (e.g. `specstream.grant.created`). */
  subject?: string;
  /**
   * `true` (the default): publish through JetStream, each message acknowledged by the stream and
   * carrying `Nats-Msg-Id` = the event id, so a re-delivered event within the stream's
   * `duplicate_window` (2 min unless configured) is stored once. A stream capturing the subjects
   * must exist (e.g. subjects `specstream.>`). `false`: core NATS publish, then a flush round trip:
   * the server has the batch, but only subscribers connected at that moment receive it (at most once
   * for them; nothing is stored).
   */
  jetstream?: boolean;
  /** Servers, as a list or a comma-separated string (`'nats://a:4222,nats://b:4222'`). Defaults to `127.0.0.1:4222`. */
  servers?: string[] | string;
  /** Token authentication. */
  token?: string;
  /** User and password authentication. */
  user?: string;
  pass?: string;
  /** A `.creds` file (JWT and NKey seed); read at each connect, so a rotated file is picked up. */
  credsFile?: string;
  /** Timeout of the connect, of a JetStream acknowledgement and of the core flush. Defaults to 5 000 ms. */
  timeoutMs?: number;
  /** Defaults to `nats:<subject>`. */
  name?: string;
  /** A connection to use as it is (JetStream from it): the caller closes it; `close` does not. */
  connection?: NatsConnection;
}

/** One message as {@link toNatsMessage} maps an event. */
export interface NatsMessage {
  subject: string;
  /** The envelope as JSON (UTF-8 when sent). */
  payload: string;
  headers: Record<string, string>;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;
const DEFAULT_SUBJECT = 'specstream.{type}';

/**
 * The subject for an event type: `template` with every `{type}` replaced.
 * @throws TypeError on a placeholder other than `{type}`
 * @throws RangeError when the result is not a publishable subject (an empty token, whitespace, or a `*`/`>` wildcard)
 */
export function natsSubject(template: string, type: string): string {
  const subject = template.replace(PLACEHOLDER, (whole, name: string) => {
    if (name !== 'type') throw new TypeError(`NATS subject template ${JSON.stringify(template)}: unknown placeholder ${whole}; only {type} is supported`);
    return type;
  });
  if (subject.split('.').some((token) => token === '' || /[\s*>]/.test(token))) {
    throw new RangeError(`NATS subject ${JSON.stringify(subject)} is not publishable: dot-separated non-empty tokens, without whitespace, * or >`);
  }
  return subject;
}

/**
 * A header value as the CloudEvents HTTP binding writes one (NATS headers are HTTP-style): space,
 * `"`, `%` and anything outside printable ASCII percent-encoded as UTF-8.
 */
function headerValue(value: string): string {
  return value.replace(/[^\x21-\x7e]|["%]/gu, (char) =>
    [...Buffer.from(char, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/**
 * Maps an event to a message:
 * - payload: the envelope as JSON (CloudEvents JSON format, structured mode);
 * - `content-type: application/cloudevents+json; charset=utf-8`;
 * - `ce-<attribute>` for every attribute but `data` that is present (`ce-specversion`, `ce-id`,
 *   `ce-source`, `ce-type`, `ce-time`, `ce-subject`, `ce-datacontenttype`, any extension), values
 *   percent-encoded as in the HTTP binding;
 * - `Nats-Msg-Id`: the event id (JetStream de-duplicates by it).
 * @throws TypeError, RangeError as {@link natsSubject}
 */
export function toNatsMessage(event: SpecstreamEvent | GenericEnvelope, options: { subject?: string } = {}): NatsMessage {
  const headers: Record<string, string> = { 'content-type': 'application/cloudevents+json; charset=utf-8' };
  for (const [name, value] of Object.entries(event)) {
    if (name === 'data' || value === undefined || value === null) continue;
    // CloudEvents attributes are scalars; anything else is not an attribute and has no header form.
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') headers[`ce-${name}`] = headerValue(String(value));
  }
  headers['Nats-Msg-Id'] = event.id;
  return { subject: natsSubject(options.subject ?? DEFAULT_SUBJECT, event.type), payload: JSON.stringify(event), headers };
}

/** Errors (by name, found along `cause`) that retrying the same messages cannot cure. */
const PERMANENT = new Set(['PermissionViolationError', 'InvalidSubjectError', 'InvalidArgumentError', 'AuthorizationError']);

/**
 * Ends a status iterator at once. `status()` is declared an AsyncIterable, but it is a QueuedIterator
 * whose `stop` ends it even while it waits; `return()` would wait for the next status.
 */
function stopIterator(iterator: AsyncIterable<Status> | undefined): void {
  (iterator as Partial<QueuedIterator<Status>> | undefined)?.stop?.();
}

function causes(error: unknown): Error[] {
  const chain: Error[] = [];
  for (let current = error; current instanceof Error && chain.length < 5; current = current.cause) chain.push(current);
  return chain;
}

type NatsModules = { core: typeof import('@nats-io/transport-node'); jetstream: typeof import('@nats-io/jetstream') };

interface Connected {
  nc: NatsConnection;
  js: JetStreamClient | undefined;
  /** The status iterator watching for refused publishes (core only). */
  status: AsyncIterable<Status> | undefined;
  modules: NatsModules;
}

/**
 * Each event is one message on `subject`. With `jetstream` (the default) the events of a batch are
 * published one after the other, each awaiting the stream's acknowledgement, so the stream holds them
 * in log order, and a re-sent batch is de-duplicated by `Nats-Msg-Id` (at least once, stored once
 * within the stream's duplicate window). Without, the batch is published and `send` resolves after a
 * flush round trip; a publish the server refused is reported by then.
 *
 * Failures: no stream answering (none captures the subject, or JetStream is unavailable), a JetStream
 * 5xx, a timeout, a lost connection are {@link RetryableError}s; a permission violation, a bad
 * subject, a payload over the server's `max_payload`, a JetStream 4xx (e.g. a message over the
 * stream's `max_msg_size`), and refused credentials are {@link PermanentError}s. A core batch with
 * one refused subject is permanent as a whole, though the other messages were delivered.
 * `flush` has nothing to do: `send` waits for the acknowledgements.
 */
export class NatsDestination implements Destination {
  readonly name: string;
  /** From the options (`batchSize`, `flushIntervalMs`): how the forwarder batches for it unless `addDestination` says otherwise. */
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly #options: NatsDestinationOptions;
  readonly #subject: string;
  readonly #jetstream: boolean;
  readonly #timeoutMs: number;
  #connected: Promise<Connected> | undefined;
  /** Publish permission violations reported since the current core batch began. */
  #violations: PermissionViolationError[] = [];
  #closed = false;

  /**
   * @throws TypeError with a subject template that has another placeholder than `{type}`, or `pass` without `user`
   * @throws RangeError when the template cannot give a publishable subject, or on a bad `timeoutMs`
   */
  constructor(options: NatsDestinationOptions = {}) {
    this.#subject = options.subject ?? DEFAULT_SUBJECT;
    natsSubject(this.#subject, 'specstream.type_check'); // validates the template now rather than at the first send
    if (options.pass !== undefined && options.user === undefined) throw new TypeError('NatsDestination: `pass` needs `user`');
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) throw new RangeError(`NatsDestination: \`timeoutMs\` must be > 0, got ${options.timeoutMs}`);
    this.#options = options;
    this.#jetstream = options.jetstream ?? true;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.name = options.name ?? `nats:${this.#subject}`;
    ({ batchSize: this.batchSize, flushIntervalMs: this.flushIntervalMs } = batchingOf(options, 'NatsDestination'));
  }

  async send(events: readonly SpecstreamEvent[]): Promise<void> {
    if (this.#closed) throw new Error(`${this.name}: send() after close()`);
    const messages = events.map((event) => {
      try {
        return toNatsMessage(event, { subject: this.#subject });
      } catch (error) {
        throw new PermanentError(`${this.name}: event ${event.id}: ${(error as Error).message}`, { cause: error });
      }
    });
    let subject: string | undefined;
    try {
      const connected = await this.#connect();
      const { js, nc, modules } = connected;
      if (js) {
        for (const message of messages) {
          subject = message.subject;
          await js.publish(message.subject, message.payload, { msgID: message.headers['Nats-Msg-Id']!, headers: this.#headers(modules, message), timeout: this.#timeoutMs });
        }
        return;
      }
      this.#violations = [];
      for (const message of messages) {
        subject = message.subject;
        nc.publish(message.subject, message.payload, { headers: this.#headers(modules, message) });
      }
      subject = undefined;
      await this.#withTimeout(nc.flush(), 'flush');
      // The server answers a refused publish with -ERR before the flush's PONG; the status iterator
      // has it once the microtasks queued with the PONG have run.
      await new Promise((resolve) => setImmediate(resolve));
      const published = new Set(messages.map((message) => message.subject));
      const refused = this.#violations.find((violation) => published.has(violation.subject));
      if (refused) throw refused;
    } catch (error) {
      throw this.#classify(error, subject);
    }
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const pending = this.#connected;
    this.#connected = undefined;
    const connected = await pending?.catch(() => undefined);
    if (!connected) return;
    stopIterator(connected.status);
    if (connected.nc !== this.#options.connection) await connected.nc.drain().catch(() => undefined);
  }

  #headers(modules: NatsModules, message: NatsMessage): MsgHdrs {
    const headers = modules.core.headers();
    for (const [key, value] of Object.entries(message.headers)) headers.set(key, value);
    return headers;
  }

  /** The connection (and JetStream client), made on first use; a closed or failed one is replaced at the next `send`. */
  async #connect(): Promise<Connected> {
    const current = await this.#connected?.catch(() => undefined);
    if (current && !current.nc.isClosed()) return current;
    stopIterator(current?.status);
    this.#connected = this.#open();
    return this.#connected;
  }

  async #open(): Promise<Connected> {
    const modules: NatsModules = { core: await import('@nats-io/transport-node'), jetstream: await import('@nats-io/jetstream') };
    let nc = this.#options.connection;
    if (!nc) {
      const { servers = '127.0.0.1:4222', token, user, pass, credsFile } = this.#options;
      nc = await modules.core.connect({
        servers: typeof servers === 'string' ? servers.split(',').map((server) => server.trim()) : servers,
        name: this.name,
        ...(token !== undefined ? { token } : {}),
        ...(user !== undefined ? { user, pass } : {}),
        ...(credsFile !== undefined ? { authenticator: modules.core.credsAuthenticator(() => readFileSync(credsFile)) } : {}),
        // A forwarder runs for long: keep reconnecting; a send meanwhile times out and is retried.
        maxReconnectAttempts: -1,
        timeout: this.#timeoutMs,
      });
    }
    if (this.#jetstream) return { nc, js: modules.jetstream.jetstream(nc, { timeout: this.#timeoutMs }), status: undefined, modules };
    // Core NATS reports a refused publish only asynchronously, as a status error.
    const status = nc.status();
    void (async () => {
      for await (const event of status) {
        if (event.type === 'error' && event.error.name === 'PermissionViolationError') {
          const violation = event.error as PermissionViolationError;
          if (violation.operation === 'publish') this.#violations.push(violation);
        }
      }
    })().catch(() => undefined);
    return { nc, js: undefined, status, modules };
  }

  async #withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RetryableError(`${this.name}: no ${what} within ${this.#timeoutMs} ms`)), this.#timeoutMs);
    });
    try {
      return await Promise.race([promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #classify(error: unknown, subject: string | undefined): RetryableError | PermanentError {
    if (error instanceof RetryableError || error instanceof PermanentError) return error;
    const chain = causes(error);
    const message = `${this.name}: ${error instanceof Error ? error.message : String(error)}`;
    for (const cause of chain) {
      if (PERMANENT.has(cause.name)) return new PermanentError(`${this.name}: ${cause.message}`, { cause: error });
      if (cause.name === 'JetStreamApiError') {
        const { status, code } = cause as Error & { status: number; code: number };
        const detail = `${message} (JetStream error ${code}, status ${status})`;
        return isRetryableStatus(status) ? new RetryableError(detail, { cause: error }) : new PermanentError(detail, { cause: error, status });
      }
      if (cause.name === 'JetStreamNotEnabled' || cause.name === 'NoResponders') {
        const where = subject === undefined ? '' : ` on ${JSON.stringify(subject)}`;
        return new RetryableError(`${this.name}: no JetStream stream answered${where}: none captures the subject, or JetStream is unavailable`, { cause: error });
      }
    }
    return new RetryableError(message, { cause: error });
  }
}
