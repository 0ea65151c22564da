import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/load-config.js';
import { OPTIONS, envName, flagName } from '../config/options.js';
import { ProfileError, SpecstreamError } from '../client/errors.js';
import { createLogger } from '../observability/logger.js';
import { startServer } from '../server.js';
import { isWorker, runPrimary, runWorker, workerCount } from '../workers/index.js';
import { ForwardConfigError } from '../destinations/forward-config.js';
import { exportCommand } from './commands/export.js';
import { forwardCommand } from './commands/forward.js';
import { generateCommand } from './commands/generate.js';
import { publishCommand } from './commands/publish.js';
import { tailCommand } from './commands/tail.js';
import { verifyCommand } from './commands/verify.js';
import { UsageError } from './common.js';

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

interface Command {
  summary: string;
  usage: string;
  /** Extra help lines after the usage (options, exit codes). */
  help?: readonly string[];
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  serve: {
    summary: 'Start the server (the default SQLite store needs no setup).',
    usage: 'specstream serve [--config FILE] [--port N] [--store URL] [--key id:secret:scopes]... [options]',
    async run(args) {
      const config = loadConfig({ argv: args });
      const workers = workerCount(config);
      // `--workers N`: this process supervises N workers, each of which runs this same command.
      if (workers > 1 && !isWorker()) return servePrimary(config, workers);
      const options = { reloadConfig: () => loadConfig({ argv: args }) };
      // SIGHUP re-reads keys and JWT settings from the same file, environment and flags.
      const running = isWorker() ? await runWorker(config, options) : await startServer(config, options);
      const stop = (signal: string) => {
        running.logger.info({ signal }, 'shutting down');
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
  },
  publish: publishCommand,
  tail: tailCommand,
  export: exportCommand,
  verify: verifyCommand,
  forward: forwardCommand,
  generate: generateCommand,
};

/** `serve --workers N` in the primary: starts the workers, forwards SIGHUP, stops them on SIGTERM/SIGINT. */
async function servePrimary(config: Config, workers: number): Promise<number> {
  const logger = createLogger(config.log_level);
  const primary = await runPrimary(config, workers, { logger });
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down the workers');
    void primary.stop().then((code) => process.exit(code === 0 ? EXIT.ok : EXIT.failure));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    logger.info({ signal: 'SIGHUP' }, 'asking the workers to reload keys and JWT settings');
    primary.reload();
  });
  return new Promise<number>(() => {}); // runs until a signal
}

/** The `version` of the package.json next to src/ (or dist/), which both sit one level below. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function help(): string {
  const lines = ['Usage: specstream <command> [options]', '', 'Commands:'];
  for (const [name, command] of Object.entries(commands)) lines.push(`  ${name.padEnd(10)} ${command.summary}`);
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
    process.stdout.write(`${help()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`specstream: unknown command "${name}"\n\n${help()}\n`);
    return EXIT.usage;
  }
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
