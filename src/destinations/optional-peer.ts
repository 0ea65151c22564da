/**
 * The cloud destinations' client libraries (`@aws-sdk/client-s3`, `@google-cloud/bigquery`,
 * `kafkajs`) are optional peer dependencies of specstream (package.json `peerDependenciesMeta`):
 * a server install does not carry them, and a forwarder that uses one installs it. These helpers
 * turn "not installed" into one line naming the package and the command that installs it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** A destination's client library is not installed. `message` is one line ending with the npm command. */
export class MissingPeerError extends Error {
  override name = 'MissingPeerError';
  /** The npm package to install, e.g. `@aws-sdk/client-s3`. */
  readonly packageName: string;
  constructor(user: string, packageName: string) {
    super(`${user} needs the package ${packageName}, an optional peer dependency of specstream that is not installed: npm install ${packageName}@${peerRange(packageName)}`);
    this.packageName = packageName;
  }
}

/** The range package.json declares for `packageName` (read only when reporting, so never at start-up). */
function peerRange(packageName: string): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { peerDependencies?: Record<string, string> };
    return `"${pkg.peerDependencies?.[packageName] ?? 'latest'}"`;
  } catch {
    return 'latest';
  }
}

const require = createRequire(import.meta.url);

/**
 * Throws {@link MissingPeerError} at once when `packageName` cannot be resolved from specstream's
 * own location (the way `import()` will look for it), so a misconfigured forwarder fails when its
 * destination is built rather than at the first batch. Loads nothing.
 */
export function assertPeerInstalled(user: string, packageName: string): void {
  try {
    require.resolve(packageName);
  } catch (error) {
    // A package that exists but exports no `require` entry is installed all the same.
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') throw new MissingPeerError(user, packageName);
  }
}

/** Runs `load` (a literal `import('<packageName>')`), turning "cannot find package" into {@link MissingPeerError}. */
export async function importPeer<T>(user: string, packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message.includes(packageName)) throw new MissingPeerError(user, packageName);
    throw error;
  }
}
