/**
 * A local fake of the part of the BigQuery REST API v2 a streaming insert uses, on node:http:
 * `POST /bigquery/v2/projects/{projectId}/datasets/{datasetId}/tables/{tableId}/insertAll`
 * (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/insertAll).
 *
 * It checks the bearer token, validates each row against its table's schema (REQUIRED, unknown
 * fields unless `ignoreUnknownValues`, STRING maxLength, TIMESTAMP and JSON syntax), answers
 * invalid rows with `insertErrors` (`invalid` for the row, `stopped` for the others unless
 * `skipInvalidRows`, as BigQuery does) and de-duplicates by `insertId`. Errors use Google's JSON
 * error format (`{error: {code, message, errors: [{domain, reason, message}], status}}`).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A column as `TableFieldSchema` describes it (the subset the fake checks). */
export interface FakeField {
  name: string;
  type: 'STRING' | 'TIMESTAMP' | 'JSON';
  mode?: 'REQUIRED' | 'NULLABLE';
  maxLength?: number;
}

/** One request as received. */
export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A canned answer that replaces the API's own. */
export interface FakeAnswer {
  status: number;
  body?: unknown;
  /** Accept the connection and never answer. */
  hang?: boolean;
}

export interface FakeBigQuery {
  /** Base URL, for the client's `apiEndpoint`. */
  url: string;
  /** Every request, in arrival order. */
  requests: FakeRequest[];
  /** Rows stored per table (`project.dataset.table`), in insert order. */
  rows(table: string): Record<string, unknown>[];
  /** Called before the API handles a request; an answer replaces it. */
  intercept: (request: FakeRequest, index: number) => FakeAnswer | undefined;
  close(): Promise<void>;
}

/** Google's JSON error body. */
export function googleError(code: number, status: string, reason: string, message: string): unknown {
  return { error: { code, message, errors: [{ domain: 'global', reason, message }], status } };
}

const TIMESTAMP = /^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{1,2}(:\d{1,2}(\.\d{1,12})?)?)?\s*(Z|[+-]\d{1,2}(:\d{2})?|UTC)?$/i;

/** The first problem of a row against a schema, as BigQuery words it, or undefined. */
function rowError(json: Record<string, unknown>, fields: FakeField[], ignoreUnknownValues: boolean): { location: string; message: string } | undefined {
  for (const key of Object.keys(json)) {
    if (!ignoreUnknownValues && !fields.some((field) => field.name === key)) return { location: key, message: `no such field: ${key}.` };
  }
  for (const field of fields) {
    const value = json[field.name];
    if (value === undefined || value === null) {
      if (field.mode === 'REQUIRED') return { location: field.name, message: `Missing required field: ${field.name}.` };
      continue;
    }
    if (field.type === 'STRING') {
      if (typeof value !== 'string') return { location: field.name, message: `This field: ${field.name} is not a record.` };
      if (field.maxLength !== undefined && value.length > field.maxLength) {
        return { location: field.name, message: `Field ${field.name}: STRING(${field.maxLength}) has maximum length ${field.maxLength} but got a value with length ${value.length}` };
      }
    }
    if (field.type === 'TIMESTAMP' && !(typeof value === 'number' || (typeof value === 'string' && TIMESTAMP.test(value) && !Number.isNaN(Date.parse(value))))) {
      return { location: field.name, message: `Could not parse '${String(value)}' as a timestamp. Required format is YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]` };
    }
    if (field.type === 'JSON') {
      try {
        if (typeof value !== 'string') throw new Error('not text');
        JSON.parse(value);
      } catch {
        return { location: field.name, message: `Could not parse value as JSON: ${String(value).slice(0, 40)}` };
      }
    }
  }
  return undefined;
}

/**
 * Starts the fake on 127.0.0.1, port 0. `tables` maps `project.dataset.table` to its columns; other
 * tables answer 404 `notFound`. Requests without `Authorization: Bearer <token>` answer 401.
 */
export async function startFakeBigQuery(options: { token: string; tables: Record<string, FakeField[]> }): Promise<FakeBigQuery> {
  const stored = new Map<string, Record<string, unknown>[]>();
  const seenInsertIds = new Map<string, Set<string>>();
  const sockets = new Set<import('node:net').Socket>();
  const fake: FakeBigQuery = {
    url: '',
    requests: [],
    rows: (table) => stored.get(table) ?? [],
    intercept: () => undefined,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const received: FakeRequest = { method: request.method!, path: request.url!, headers: request.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
      fake.requests.push(received);
      const send = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' }).end(JSON.stringify(body));
      const answer = fake.intercept(received, fake.requests.length - 1);
      if (answer?.hang) return;
      if (answer) return send(answer.status, answer.body ?? {});

      if (request.headers.authorization !== `Bearer ${options.token}`) {
        return send(401, googleError(401, 'UNAUTHENTICATED', 'unauthorized', 'Request had invalid authentication credentials.'));
      }
      const match = /^\/bigquery\/v2\/projects\/([^/]+)\/datasets\/([^/]+)\/tables\/([^/]+)\/insertAll$/.exec(new URL(request.url!, 'http://x').pathname);
      if (request.method !== 'POST' || !match) return send(404, googleError(404, 'NOT_FOUND', 'notFound', `Not found: ${request.method} ${request.url}`));
      const [, project, dataset, table] = match.map((part) => decodeURIComponent(part)) as [string, string, string, string];
      const ref = `${project}.${dataset}.${table}`;
      const fields = options.tables[ref];
      if (!fields) return send(404, googleError(404, 'NOT_FOUND', 'notFound', `Not found: Table ${project}:${dataset}.${table}`));

      const body = received.body as { rows?: { insertId?: string; json: Record<string, unknown> }[]; skipInvalidRows?: boolean; ignoreUnknownValues?: boolean };
      if (!Array.isArray(body?.rows) || body.rows.length === 0) return send(400, googleError(400, 'INVALID_ARGUMENT', 'invalid', 'No rows present in the request.'));
      const problems = body.rows.map((row) => rowError(row.json, fields, body.ignoreUnknownValues === true));
      const insertErrors: { index: number; errors: { reason: string; location: string; debugInfo: string; message: string }[] }[] = [];
      const anyInvalid = problems.some(Boolean);
      problems.forEach((problem, index) => {
        if (problem) insertErrors.push({ index, errors: [{ reason: 'invalid', location: problem.location, debugInfo: '', message: problem.message }] });
        // Without skipInvalidRows one invalid row stops the whole request: BigQuery reports the others as `stopped`.
        else if (anyInvalid && body.skipInvalidRows !== true) insertErrors.push({ index, errors: [{ reason: 'stopped', location: '', debugInfo: '', message: '' }] });
      });
      const insertAny = insertErrors.length === 0 || body.skipInvalidRows === true;
      if (insertAny) {
        const seen = seenInsertIds.get(ref) ?? new Set<string>();
        seenInsertIds.set(ref, seen);
        const rows = stored.get(ref) ?? [];
        stored.set(ref, rows);
        body.rows.forEach((row, index) => {
          if (problems[index]) return;
          if (row.insertId !== undefined) {
            if (seen.has(row.insertId)) return; // best-effort de-duplication, here always effective
            seen.add(row.insertId);
          }
          rows.push(row.json);
        });
      }
      send(200, insertErrors.length > 0 ? { kind: 'bigquery#tableDataInsertAllResponse', insertErrors } : { kind: 'bigquery#tableDataInsertAllResponse' });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
