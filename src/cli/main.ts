import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/load-config.js';
import { OPTIONS, envName, flagName } from '../config/options.js';
import { ProfileError, SpecstreamError } from '../client/errors.js';
import { watchIdleHeap } from '../observability/idle-heap.js';
import { createLogger } from '../observability/logger.js';
import { isWorker, workerCount } from '../workers/role.js';
import { ForwardConfigError } from '../destinations/forward-config-error.js';
import { UsageError } from './common.js';
import { deferOptimizers } from './defer-optimizers.js';

// Everything but `serve` itself is imported when its command runs, so that a server holds only
// what serving needs (memory at rest, README "Benchmarks"): the other commands, the client and the
// destinations, the worker supervisor.

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

interface Command {
  summary: string;
  usage: string;
  /** Extra help lines after the usage (options, exit codes). */
  help?: readonly string[];
  run(args: string[]): Promise<number>;
}

/** Each command's module, imported when the command runs (or when `--help` lists the summaries). */
const commands: Record<string, () => Promise<Command>> = {
  serve: async () => serveCommand,
  publish: async () => (await import('./commands/publish.js')).publishCommand,
  tail: async () => (await import('./commands/tail.js')).tailCommand,
  export: async () => (await import('./commands/export.js')).exportCommand,
  verify: async () => (await import('./commands/verify.js')).verifyCommand,
  forward: async () => (await import('./commands/forward.js')).forwardCommand,
  generate: async () => (await import('./commands/generate.js')).generateCommand,
};

const serveCommand: Command = {
  summary: 'Start the server (the default SQLite store needs no setup).',
  usage: 'specstream serve [--config FILE] [--port N] [--store URL] [--key id:secret:scopes]... [options]',
  async run(args: string[]) {
    // Start-up code runs once: V8's compilers wait until the server listens (memory at rest).
    const resumeOptimizers = deferOptimizers();
    const config = loadConfig({ argv: args });
    const workers = workerCount(config);
    // `--workers N`: this process supervises N workers, each of which runs this same command.
    if (workers > 1 && !isWorker()) return servePrimary(config, workers, resumeOptimizers);
    const options = { reloadConfig: () => loadConfig({ argv: args }) };
    // SIGHUP re-reads keys and JWT settings from the same file, environment and flags.
    const running = await (isWorker()
      ? (await import('../workers/worker.js')).runWorker(config, options)
      : (await import('../server.js')).startServer(config, options)
    ).finally(resumeOptimizers);
    // Gives the young generation back while the server is idle (memory at rest, README "Benchmarks").
    const idleHeap = watchIdleHeap();
    const stop = (signal: string) => {
      running.logger.info({ signal }, 'shutting down');
      idleHeap.stop();
      running.close().then(
        () => process.exit(EXIT.ok),
        (error: unknown) => {
          running.logger.error({ err: error }, 'shutdown failed');
          process.exit(EXIT.failure);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      running.logger.info({ signal: 'SIGHUP' }, 'reloading keys and JWT settings');
      void running.reloadAuth();
    });
    return new Promise<number>(() => {}); // runs until a signal
  },
};

/** `serve --workers N` in the primary: starts the workers, forwards SIGHUP, stops them on SIGTERM/SIGINT. */
async function servePrimary(config: Config, workers: number, resumeOptimizers: () => void): Promise<number> {
  const logger = createLogger(config.log_level);
  // The signal handlers come first: a SIGTERM while the workers start stops them once they have.
  const starting = import('../workers/primary.js').then(({ runPrimary }) => runPrimary(config, workers, { logger })).finally(resumeOptimizers);
  const idleHeap = watchIdleHeap();
  const stop = (signal: string) => {
    idleHeap.stop();
    logger.info({ signal }, 'shutting down the workers');
    void starting
      .then((primary) => primary.stop())
      .then(
        (code) => process.exit(code === 0 ? EXIT.ok : EXIT.failure),
        () => process.exit(EXIT.failure),
      );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'asking the workers to reload keys and JWT settings');
    void starting.then((primary) => primary.reload());
  });
  await starting;
  return new Promise<number>(() => {}); // runs until a signal
}

/** The `version` of the package.json next to src/ (or dist/), which both sit one level below. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function help(): Promise<string> {
  const lines = ['Usage: specstream <command> [options]', '', 'Commands:'];
  for (const [name, load] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${(await load()).summary}`);
  lines.push('', 'Run `specstream <command> --help` for a command\'s options, `specstream --version` for the version.');
  return lines.join('\n');
}

function serveHelp(usage: string): string {
  const lines = [`Usage: ${usage}`, '', 'Options (flag, environment variable, default):'];
  for (const [name, spec] of Object.entries(OPTIONS)) {
    const flag = name === 'keys' ? '--key' : flagName(name);
    lines.push(`  ${flag.padEnd(26)} ${envName(name).padEnd(34)} ${JSON.stringify(spec.default)}`);
    lines.push(`      ${spec.description}`);
  }
  lines.push(`  ${'--config FILE'.padEnd(26)} ${'SPECSTREAM_CONFIG'.padEnd(34)} ./specstream.yaml if present`);
  return lines.join('\n');
}

function commandHelp(command: Command): string {
  return [`Usage: ${command.usage}`, '', command.summary, ...(command.help ? ['', ...command.help] : [])].join('\n');
}

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${await help()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const load = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!load) {
    process.stderr.write(`specstream: unknown command "${name}"\n\n${await help()}\n`);
    return EXIT.usage;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${name === 'serve' ? serveHelp(command.usage) : commandHelp(command)}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`specstream ${name}: ${error.message}\nUsage: ${command.usage}\n`);
      return EXIT.usage;
    }
    if (error instanceof ProfileError) {
      // The options ask for something the bundle does not offer (a publish path, a query parameter, a credential kind).
      process.stderr.write(`specstream ${name}: ${error.message} (${error.code})\n`);
      return EXIT.usage;
    }
    if (error instanceof SpecstreamError) {
      process.stderr.write(`specstream ${name}: ${error.message} (${error.status || 'network'} ${error.code})\n`);
      return EXIT.failure;
    }
    if (error instanceof ForwardConfigError) {
      process.stderr.write(`specstream forward: ${error.message}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`specstream: ${error.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`specstream: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.failure;
  }
}

// Run when executed directly (`node dist/cli/main.js`, or `tsx src/cli/main.ts` as the tests do);
// bin/specstream.js imports `main`.
if (/cli[\\/]main\.[jt]s$/.test(process.argv[1] ?? '')) {
  process.exitCode = await main(process.argv.slice(2));
}
