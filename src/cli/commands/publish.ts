import { createInterface } from 'node:readline';
import { publishAny, type NewWireEvent } from '../../client/rest.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientOf, parse, UsageError } from '../common.js';

/** Events per request when reading NDJSON from stdin (the API's batch limit). */
const BATCH = 1000;

export const publishCommand = {
  summary: 'Publish one event (--type, --data) or NDJSON events from stdin, in batches.',
  usage: 'specstream publish --type TYPE --data JSON [--subject S] [--source S] [--idempotency-key K] | specstream publish < events.ndjson',
  help: [
    'Options:',
    ...CLIENT_HELP,
    '  --type TYPE          catalog event type, e.g. grant.created (the bundle\'s own names with --specs)',
    '  --data JSON          the payload (validated by the server against the catalog)',
    '  --subject S          what the event is about',
    '  --source S           producer URI-reference (default: "/" + the type\'s first segment)',
    '  --idempotency-key K  makes a retry safe (one event, or every batch with K-<n>)',
    '',
    'Without --type, reads NDJSON events ({"type":..,"data":..}) from stdin and sends them in batches of 1000.',
    'Sends to the bundle\'s publish operation; prints each stored event as the bundle\'s envelope, one JSON line each.',
    'Exit 0 on success, 1 if the server refused (or the bundle has no publish operation), 2 on bad usage.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, {
      ...CLIENT_OPTIONS,
      type: { type: 'string' },
      data: { type: 'string' },
      subject: { type: 'string' },
      source: { type: 'string' },
      'idempotency-key': { type: 'string' },
    });
    const client = clientOf(values);
    const key = values['idempotency-key'];
    if (values.type !== undefined) {
      if (values.data === undefined) throw new UsageError('--type needs --data');
      let data: unknown;
      try {
        data = JSON.parse(values.data);
      } catch {
        throw new UsageError('--data is not valid JSON');
      }
      const event: NewWireEvent = { type: values.type, data, ...(values.subject ? { subject: values.subject } : {}), ...(values.source ? { source: values.source } : {}) };
      const stored = await publishAny(client, event, key === undefined ? {} : { idempotencyKey: key });
      process.stdout.write(`${JSON.stringify(stored)}\n`);
      return 0;
    }
    if (values.data !== undefined) throw new UsageError('--data needs --type');
    if (process.stdin.isTTY) throw new UsageError('give --type and --data, or pipe NDJSON events into stdin');
    let batch: NewWireEvent[] = [];
    let sent = 0;
    let line = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const opts = key === undefined ? {} : { idempotencyKey: `${key}-${sent}` };
      const stored = (await publishAny(client, batch, opts)) as unknown[];
      process.stdout.write(stored.map((e) => `${JSON.stringify(e)}\n`).join(''));
      sent++;
      batch = [];
    };
    for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      try {
        batch.push(JSON.parse(text) as NewWireEvent);
      } catch {
        throw new UsageError(`stdin line ${line} is not JSON`);
      }
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    return 0;
  },
};
