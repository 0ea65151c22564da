/**
 * A fake Datadog logs intake (HTTP intake v2), written from Datadog's "Send logs" documentation
 * (https://docs.datadoghq.com/api/latest/logs/#send-logs), not from the destination's code:
 * `POST /api/v2/logs` with the key in `DD-API-KEY`, a JSON body (gzip or deflate per
 * `Content-Encoding`), at most 5 MB uncompressed and 1 000 entries per request. Missing key → 401,
 * wrong key → 403, bad payload → 400, over 5 MB → 413, otherwise 202. A log over 1 MB is accepted and
 * recorded as truncated, as Datadog does. Every request is recorded, refused or not.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

/** Datadog's documented limits, as the real intake applies them (uncompressed bytes). */
export const INTAKE_LIMITS = { maxPayloadBytes: 5_000_000, maxLogBytes: 1_000_000, maxEntries: 1_000 } as const;

/** One request as the intake saw it. */
export interface IntakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** `Content-Encoding` as sent (`identity` when absent). */
  encoding: string;
  /** Bytes on the wire. */
  wireBytes: number;
  /** Bytes after decoding: what the 5 MB limit counts. */
  payloadBytes: number;
  /** The decoded payload. */
  payload: string;
  /** The log entries (empty when the payload was refused before parsing). */
  entries: Record<string, unknown>[];
  /** Indexes of entries over 1 MB, which Datadog truncates. */
  truncated: number[];
  /** The status the intake answered. */
  status: number;
  /** Why the intake refused the request, if it did. */
  refusal?: string;
}

/** An answer chosen by a test for a request that passed every check. */
export interface IntakeAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export class FakeDatadogIntake {
  /** Every request, in arrival order. */
  readonly requests: IntakeRequest[] = [];
  /** Chooses the answer to a valid request (`index` into `requests`); undefined gives 202. */
  respond: (request: IntakeRequest, index: number) => IntakeAnswer | undefined = () => undefined;
  readonly #server: Server;
  readonly #apiKey: string;

  private constructor(apiKey: string) {
    this.#apiKey = apiKey;
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const wire = Buffer.concat(chunks);
        const record: IntakeRequest = {
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          encoding: String(request.headers['content-encoding'] ?? 'identity'),
          wireBytes: wire.length,
          payloadBytes: 0,
          payload: '',
          entries: [],
          truncated: [],
          status: 0,
        };
        const index = this.requests.push(record) - 1;
        const answer = this.#check(record, wire) ?? this.respond(record, index) ?? { status: 202, body: {} };
        record.status = answer.status;
        response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body ?? {}));
      });
    });
  }

  /** Starts an intake on 127.0.0.1, port 0, that accepts `apiKey`. */
  static async start(apiKey: string): Promise<FakeDatadogIntake> {
    const intake = new FakeDatadogIntake(apiKey);
    await new Promise<void>((resolve) => intake.#server.listen(0, '127.0.0.1', resolve));
    return intake;
  }

  /** The URL to post logs to. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/api/v2/logs`;
  }

  /** The entries of the requests answered 2xx, in arrival order. */
  accepted(): Record<string, unknown>[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.entries);
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** The documented checks; gives the refusal, or undefined when the request is valid. */
  #check(record: IntakeRequest, wire: Buffer): IntakeAnswer | undefined {
    const refuse = (status: number, reason: string): IntakeAnswer => {
      record.refusal = reason;
      return { status, body: { errors: [reason] } };
    };
    if (record.method !== 'POST' || record.path.split('?')[0] !== '/api/v2/logs') return refuse(404, 'Not found');
    const key = record.headers['dd-api-key'];
    if (key === undefined) return refuse(401, 'Unauthorized');
    if (key !== this.#apiKey) return refuse(403, 'Forbidden');
    if (!String(record.headers['content-type'] ?? '').startsWith('application/json')) return refuse(400, 'Content-Type must be application/json');
    if (!['gzip', 'deflate', 'identity'].includes(record.encoding)) return refuse(400, `unsupported Content-Encoding ${record.encoding}`);
    let decoded: Buffer;
    try {
      decoded = record.encoding === 'gzip' ? gunzipSync(wire) : record.encoding === 'deflate' ? inflateSync(wire) : wire;
    } catch {
      return refuse(400, `body is not valid ${record.encoding}`);
    }
    record.payloadBytes = decoded.length;
    record.payload = decoded.toString('utf8');
    if (record.payloadBytes > INTAKE_LIMITS.maxPayloadBytes) return refuse(413, 'Payload too large');
    let parsed: unknown;
    try {
      parsed = JSON.parse(record.payload);
    } catch {
      return refuse(400, 'payload is not JSON');
    }
    const entries = Array.isArray(parsed) ? parsed : [parsed];
    if (entries.length > INTAKE_LIMITS.maxEntries) return refuse(400, `more than ${INTAKE_LIMITS.maxEntries} entries`);
    if (!entries.every((entry) => typeof entry === 'object' && entry !== null && !Array.isArray(entry))) return refuse(400, 'every log must be an object');
    record.entries = entries as Record<string, unknown>[];
    record.truncated = record.entries.flatMap((entry, i) => (Buffer.byteLength(JSON.stringify(entry)) > INTAKE_LIMITS.maxLogBytes ? [i] : []));
    return undefined;
  }
}
