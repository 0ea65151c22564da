/**
 * A fake Splunk HTTP Event Collector, written from Splunk's HEC documentation ("Format events for
 * HTTP Event Collector", "About HTTP Event Collector Indexer Acknowledgment", the HEC status codes),
 * not from the destination's code:
 *
 * - `POST /services/collector/event` with `Authorization: Splunk <token>`; the body is JSON event
 *   objects one after another (not an array), each with `event` and optional `time` (epoch seconds),
 *   `host`, `source`, `sourcetype`, `index`, `fields`; `Content-Encoding: gzip` is gunzipped.
 * - Answers as Splunk does: 200 `{"text":"Success","code":0}` (plus `ackId` when the token has
 *   indexer acknowledgement), 401 code 2/3, 403 code 4, 400 code 5/6/10/11/12/13, 413 over
 *   `max_content_length`.
 * - `POST /services/collector/ack?channel=<guid>` with `{"acks":[…]}` answers `{"acks":{"<id>":bool}}`;
 *   an id reported `true` is forgotten (asked again, it is `false`), as Splunk does.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A HEC event as it arrived. */
export interface HecEvent {
  time?: number | string;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event: unknown;
  [key: string]: unknown;
}

/** One request to the event endpoint as the collector saw it. */
export interface HecRequest {
  path: string;
  headers: IncomingHttpHeaders;
  /** `Content-Encoding` as sent (`identity` when absent). */
  encoding: string;
  /** The channel, from `X-Splunk-Request-Channel` or `?channel=`. */
  channel: string | undefined;
  /** Bytes after decoding. */
  payloadBytes: number;
  /** The decoded payload. */
  payload: string;
  /** The events, parsed as concatenated JSON objects (empty when refused before). */
  events: HecEvent[];
  status: number;
  /** The JSON body answered. */
  answer: Record<string, unknown>;
}

/** One acknowledgement query. */
export interface AckQuery {
  channel: string | undefined;
  acks: number[];
  status: number;
  answer: Record<string, unknown>;
}

/** An answer chosen by a test for a valid event request. */
export interface HecAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

export interface FakeSplunkHecOptions {
  token: string;
  /** The token has indexer acknowledgement enabled (`useACK`): a channel is required and 200s carry an `ackId`. */
  ack?: boolean;
  /** `max_content_length` in `limits.conf`, decoded bytes. Defaults to 838 860 800 (800 MB), recent Splunk's default. */
  maxContentLength?: number;
}

/**
 * Parses a HEC batch: JSON objects one after another, optionally separated by whitespace.
 * @throws Error naming the offset where the text stops being a sequence of objects
 */
export function parseConcatenatedObjects(text: string): unknown[] {
  const objects: unknown[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) return objects;
    if (text[i] !== '{') throw new Error(`expected "{" at offset ${i}, got ${JSON.stringify(text[i])}`);
    const start = i;
    let depth = 0;
    let inString = false;
    let escaped = false;
    for (; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{') depth++;
      else if (c === '}' && --depth === 0) {
        i++;
        break;
      }
    }
    if (depth !== 0) throw new Error(`unterminated object from offset ${start}`);
    objects.push(JSON.parse(text.slice(start, i)));
  }
}

export class FakeSplunkHec {
  /** Every request to the event endpoint, in arrival order. */
  readonly requests: HecRequest[] = [];
  /** Every acknowledgement query, in arrival order. */
  readonly ackQueries: AckQuery[] = [];
  /** Chooses the answer to a valid event request (`index` into `requests`); undefined gives 200 Success. */
  respond: (request: HecRequest, index: number) => HecAnswer | undefined = () => undefined;
  /**
   * Whether an ackId is indexed when queried for the `query`-th time (1 for the first query).
   * Defaults to false at the first query and true from the second.
   */
  indexed: (ackId: number, query: number) => boolean = (_ackId, query) => query >= 2;
  readonly #server: Server;
  readonly #options: FakeSplunkHecOptions;
  /** Per channel: next ackId and the pending ones with how often each was queried. */
  readonly #channels = new Map<string, { next: number; pending: Map<number, number> }>();

  private constructor(options: FakeSplunkHecOptions) {
    this.#options = options;
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const url = new URL(request.url ?? '/', 'http://collector');
        const wire = Buffer.concat(chunks);
        const channelHeader = request.headers['x-splunk-request-channel'];
        const channel = (typeof channelHeader === 'string' ? channelHeader : undefined) ?? url.searchParams.get('channel') ?? undefined;
        const send = (answer: HecAnswer) => response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body ?? {}));
        if (request.method === 'POST' && url.pathname === '/services/collector/event') send(this.#event(request.headers, channel, wire));
        else if (request.method === 'POST' && url.pathname === '/services/collector/ack') send(this.#ack(request.headers, url.searchParams.get('channel') ?? channel, wire));
        else send({ status: 404, body: { text: 'The requested URL was not found on this server.', code: 404 } });
      });
    });
  }

  /** Starts a collector on 127.0.0.1, port 0. */
  static async start(options: FakeSplunkHecOptions): Promise<FakeSplunkHec> {
    const hec = new FakeSplunkHec(options);
    await new Promise<void>((resolve) => hec.#server.listen(0, '127.0.0.1', resolve));
    return hec;
  }

  /** The HEC base URL (`http://127.0.0.1:<port>`). */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The events of the requests answered 200, in arrival order. */
  accepted(): HecEvent[] {
    return this.requests.filter((r) => r.status === 200).flatMap((r) => r.events);
  }

  /** Ack ids issued and not yet reported indexed, per channel. */
  pendingAcks(channel: string): number[] {
    return [...(this.#channels.get(channel)?.pending.keys() ?? [])];
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** The documented authorization checks; undefined when the token is right. */
  #authorize(headers: IncomingHttpHeaders): HecAnswer | undefined {
    const authorization = headers.authorization;
    if (authorization === undefined) return { status: 401, body: { text: 'Token is required', code: 2 } };
    const match = /^Splunk (\S+)$/.exec(authorization);
    if (!match) return { status: 401, body: { text: 'Invalid authorization', code: 3 } };
    if (match[1] !== this.#options.token) return { status: 403, body: { text: 'Invalid token', code: 4 } };
    return undefined;
  }

  #channelError(channel: string | undefined): HecAnswer | undefined {
    if (channel === undefined) return { status: 400, body: { text: 'Data channel is missing', code: 10 } };
    if (!GUID.test(channel)) return { status: 400, body: { text: 'Invalid data channel', code: 11 } };
    return undefined;
  }

  #event(headers: IncomingHttpHeaders, channel: string | undefined, wire: Buffer): HecAnswer {
    const record: HecRequest = {
      path: '/services/collector/event',
      headers,
      encoding: String(headers['content-encoding'] ?? 'identity'),
      channel,
      payloadBytes: 0,
      payload: '',
      events: [],
      status: 0,
      answer: {},
    };
    const index = this.requests.push(record) - 1;
    const answer = this.#checkEvent(record, wire) ?? this.respond(record, index) ?? this.#success(channel);
    record.status = answer.status;
    record.answer = answer.body ?? {};
    return answer;
  }

  #checkEvent(record: HecRequest, wire: Buffer): HecAnswer | undefined {
    const unauthorized = this.#authorize(record.headers);
    if (unauthorized) return unauthorized;
    if (this.#options.ack || record.channel !== undefined) {
      const channelError = this.#channelError(record.channel);
      if (channelError) return channelError;
    }
    let decoded: Buffer;
    try {
      decoded = record.encoding === 'gzip' ? gunzipSync(wire) : wire;
    } catch {
      return { status: 400, body: { text: 'Invalid data format', code: 6 } };
    }
    record.payloadBytes = decoded.length;
    const max = this.#options.maxContentLength ?? 838_860_800;
    if (decoded.length > max) return { status: 413, body: { text: `Content-Length of ${decoded.length} too large (maximum is ${max})` } };
    record.payload = decoded.toString('utf8');
    if (record.payload.trim() === '') return { status: 400, body: { text: 'No data', code: 5 } };
    let objects: unknown[];
    try {
      objects = parseConcatenatedObjects(record.payload);
    } catch {
      return { status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': 0 } };
    }
    for (const [i, object] of objects.entries()) {
      const event = object as HecEvent;
      if (!('event' in event)) return { status: 400, body: { text: 'Event field is required', code: 12, 'invalid-event-number': i } };
      if (event.event === '' || event.event === null) return { status: 400, body: { text: 'Event field cannot be blank', code: 13, 'invalid-event-number': i } };
      if (event.time !== undefined && !(typeof event.time === 'number' || /^\d+(\.\d+)?$/.test(String(event.time)))) {
        return { status: 400, body: { text: 'Invalid data format', code: 6, 'invalid-event-number': i } };
      }
    }
    record.events = objects as HecEvent[];
    return undefined;
  }

  #success(channel: string | undefined): HecAnswer {
    if (!this.#options.ack || channel === undefined) return { status: 200, body: { text: 'Success', code: 0 } };
    let state = this.#channels.get(channel);
    if (!state) this.#channels.set(channel, (state = { next: 0, pending: new Map() }));
    const ackId = state.next++;
    state.pending.set(ackId, 0);
    return { status: 200, body: { text: 'Success', code: 0, ackId } };
  }

  #ack(headers: IncomingHttpHeaders, channel: string | undefined, wire: Buffer): HecAnswer {
    const query: AckQuery = { channel, acks: [], status: 0, answer: {} };
    this.ackQueries.push(query);
    const answer = this.#answerAck(headers, query, wire);
    query.status = answer.status;
    query.answer = answer.body ?? {};
    return answer;
  }

  #answerAck(headers: IncomingHttpHeaders, query: AckQuery, wire: Buffer): HecAnswer {
    const unauthorized = this.#authorize(headers);
    if (unauthorized) return unauthorized;
    const channelError = this.#channelError(query.channel);
    if (channelError) return channelError;
    if (!this.#options.ack) return { status: 400, body: { text: 'ACK is disabled', code: 14 } };
    let body: { acks?: unknown };
    try {
      body = JSON.parse(wire.toString('utf8')) as { acks?: unknown };
    } catch {
      return { status: 400, body: { text: 'Invalid data format', code: 6 } };
    }
    if (!Array.isArray(body.acks) || !body.acks.every((id) => Number.isInteger(id))) return { status: 400, body: { text: 'Invalid data format', code: 6 } };
    query.acks = body.acks as number[];
    const pending = this.#channels.get(query.channel!)?.pending;
    const acks: Record<string, boolean> = {};
    for (const id of query.acks) {
      const asked = pending?.get(id);
      if (asked === undefined) {
        acks[String(id)] = false;
        continue;
      }
      pending!.set(id, asked + 1);
      const done = this.indexed(id, asked + 1);
      if (done) pending!.delete(id);
      acks[String(id)] = done;
    }
    return { status: 200, body: { acks } };
  }
}
