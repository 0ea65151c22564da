import { subscribe } from '../../client/connect.js';
import { envelopeParts, type ClientProfile } from '../../client/profile.js';
import { NATIVE_PROFILE } from '../../generated/wire-profile.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientOf, onStdoutClosed, painter, parse, typesOf, UsageError } from '../common.js';

const TYPE_COLOURS = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94];

function colourOf(type: string): number {
  let hash = 0;
  for (const ch of type) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return TYPE_COLOURS[hash % TYPE_COLOURS.length]!;
}

/**
 * One human line: time, type, id, subject and the payload, compact, read from the envelope by the
 * bundle's profile (a part the envelope does not carry is `-`; `type` and `id` fall back to what the
 * stream said, e.g. the SSE event name or `id:` line).
 */
export function formatEvent(
  event: unknown,
  paint: (code: number, text: string) => string,
  profile: ClientProfile = NATIVE_PROFILE,
  known: { id?: string | undefined; type?: string | undefined } = {},
): string {
  const parts = event !== null && typeof event === 'object' ? envelopeParts(profile, event as Record<string, unknown>) : { data: event };
  const text = (value: unknown) => (value === undefined || value === null ? undefined : String(value));
  const type = text(parts.type) ?? known.type ?? '-';
  const subject = text(parts.subject);
  const data = JSON.stringify(parts.data ?? event) ?? 'null';
  return [
    paint(2, text(parts.time) ?? '-'),
    paint(colourOf(type), type.padEnd(24)),
    paint(2, text(parts.id) ?? known.id ?? '-'),
    subject ? paint(1, subject) : '-',
    data.length > 160 ? `${data.slice(0, 157)}...` : data,
  ].join('  ');
}

export const tailCommand = {
  summary: 'Follow the live stream: one coloured line per event (or --json for NDJSON), like `stripe listen`.',
  usage: 'specstream tail [--types grant.*,token.*] [--since TIME | --since-id ID] [--json] [--transport sse|ws] [--count N]',
  help: [
    'Options:',
    ...CLIENT_HELP,
    '  --types LIST         comma list of types or globs (default: all the token may read)',
    '  --since TIME         start with history from this RFC 3339 time',
    '  --since-id ID        start with history after this event id',
    '  --until TIME / --until-id ID   stop there',
    '  --json               print each event as one JSON line (NDJSON)',
    '  --transport sse|ws   default sse (ws when the bundle has only a WebSocket stream)',
    '  --count N            exit after N events',
    '',
    'Reconnects by itself (resuming where it stopped); connection changes go to stderr.',
    'Exit 0 on Ctrl-C, --count reached or the stream\'s end; 1 if the server refused (401/403/400); 2 on bad usage.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, {
      ...CLIENT_OPTIONS,
      types: { type: 'string' },
      since: { type: 'string' },
      'since-id': { type: 'string' },
      until: { type: 'string' },
      'until-id': { type: 'string' },
      json: { type: 'boolean' },
      transport: { type: 'string' },
      count: { type: 'string' },
    });
    const client = clientOf(values);
    const transport = values.transport ?? (client.profile.paths.sse === undefined && client.profile.paths.ws !== undefined ? 'ws' : 'sse');
    if (transport !== 'sse' && transport !== 'ws') throw new UsageError('--transport must be sse or ws');
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (!(count > 0)) throw new UsageError('--count must be a positive number');
    const paint = painter(process.stdout);
    const note = painter(process.stderr);
    const types = typesOf(values.types);
    const { bundleDir: _dir, ...target } = client;
    const subscription = subscribe({
      ...target,
      transport,
      ...(types ? { types } : {}),
      ...(values.since ? { since: values.since } : {}),
      ...(values['since-id'] ? { sinceId: values['since-id'] } : {}),
      ...(values.until ? { until: values.until } : {}),
      ...(values['until-id'] ? { untilId: values['until-id'] } : {}),
    });
    subscription.on('state', (change) => {
      if (change.state === 'open') process.stderr.write(note(32, `> connected (${transport})\n`));
      if (change.state === 'reconnecting') process.stderr.write(note(31, `> disconnected, reconnecting in ${change.delayMs} ms\n`));
    });
    subscription.on('dropped', (notice) => process.stderr.write(note(31, `> the server dropped ${notice.count} events (fell behind retention)\n`)));
    const stop = () => subscription.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    onStdoutClosed(stop);
    let seen = 0;
    try {
      for await (const event of subscription) {
        const known = { id: subscription.lastEventId, type: subscription.lastEventType };
        process.stdout.write(`${values.json ? JSON.stringify(event) : formatEvent(event, paint, client.profile, known)}\n`);
        if (++seen >= count) break;
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      subscription.close();
    }
    return 0;
  },
};
