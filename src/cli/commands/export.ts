import { listAny } from '../../client/rest.js';
import { CLIENT_HELP, CLIENT_OPTIONS, clientOf, onStdoutClosed, parse, typesOf, UsageError } from '../common.js';

export const exportCommand = {
  summary: 'Write history to stdout as NDJSON, with a progress line (count, rate) on stderr when it is a terminal.',
  usage: 'specstream export (--since TIME | --since-id ID) [--until TIME | --until-id ID] [--types LIST] > events.ndjson',
  help: [
    'Options:',
    ...CLIENT_HELP,
    '  --since TIME         from this RFC 3339 time',
    '  --since-id ID        after this event id',
    '  --until TIME / --until-id ID   up to here (inclusive)',
    '  --types LIST         comma list of types or globs',
    '  --page-size N        events per request (1-1000, default 1000)',
    '  --progress / --no-progress     force the progress line on or off (default: on when stderr is a TTY)',
    '',
    'Reads the bundle\'s list operation(s) (several are merged in log order); each event is written as the bundle\'s envelope.',
    'Exit 0 when everything is written, 1 if the server refused or failed, 2 on bad usage.',
  ],
  async run(args: string[]): Promise<number> {
    const values = parse(args, {
      ...CLIENT_OPTIONS,
      since: { type: 'string' },
      'since-id': { type: 'string' },
      until: { type: 'string' },
      'until-id': { type: 'string' },
      types: { type: 'string' },
      'page-size': { type: 'string' },
      progress: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
    });
    if (values.since === undefined && values['since-id'] === undefined) throw new UsageError('give --since or --since-id');
    const pageSize = values['page-size'] === undefined ? 1000 : Number(values['page-size']);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) throw new UsageError('--page-size must be 1 to 1000');
    const progress = values['no-progress'] ? false : (values.progress ?? process.stderr.isTTY === true);
    const types = typesOf(values.types);
    const started = Date.now();
    let count = 0;
    let lastDraw = 0;
    const draw = (final: boolean) => {
      const seconds = Math.max((Date.now() - started) / 1000, 0.001);
      process.stderr.write(`\r${count} events  ${Math.round(count / seconds)}/s${final ? '\n' : ''}`);
    };
    let buffer = '';
    let readerGone = false;
    onStdoutClosed(() => (readerGone = true)); // `export | head`: stop fetching pages, exit 0
    const { bundleDir: _dir, ...client } = clientOf(values);
    for await (const event of listAny({
      ...client,
      pageSize,
      ...(types ? { types } : {}),
      ...(values.since ? { since: values.since } : {}),
      ...(values['since-id'] ? { sinceId: values['since-id'] } : {}),
      ...(values.until ? { until: values.until } : {}),
      ...(values['until-id'] ? { untilId: values['until-id'] } : {}),
    })) {
      if (readerGone) break;
      buffer += `${JSON.stringify(event)}\n`;
      count++;
      if (buffer.length > 65_536) {
        if (!process.stdout.write(buffer)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              process.stdout.off('drain', done);
              process.stdout.off('error', done);
              resolve();
            };
            process.stdout.once('drain', done);
            process.stdout.once('error', done);
          });
        }
        buffer = '';
      }
      if (progress && Date.now() - lastDraw > 100) {
        lastDraw = Date.now();
        draw(false);
      }
    }
    if (buffer && !readerGone) process.stdout.write(buffer);
    if (progress) draw(true);
    return 0;
  },
};
