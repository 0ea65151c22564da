// Loaded with `node --import` before a documented Node snippet runs (test/examples/helpers/snippets.ts):
// console.log/info/warn/error and report() write one JSON line per call to stdout, so the test reads exactly
// the values the snippet printed; an uncaught error is written the same way before the process exits.
const write = (kind, args) => {
  const line = JSON.stringify({ '@snippet': kind, args }, (_key, value) => {
    if (value instanceof Error) return { name: value.name, message: value.message };
    if (typeof value === 'bigint') return String(value);
    if (typeof Event !== 'undefined' && value instanceof Event) return { event: value.type, ...('message' in value ? { message: value.message } : {}), ...('code' in value ? { code: value.code } : {}) };
    return value;
  });
  process.stdout.write(`${line}\n`);
};
for (const method of ['log', 'info', 'warn', 'error']) console[method] = (...args) => write(method, args);
globalThis.report = (...args) => write('report', args);
process.on('uncaughtException', (error) => {
  write('uncaught', [error]);
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  write('uncaught', [error]);
  process.exit(70);
});
