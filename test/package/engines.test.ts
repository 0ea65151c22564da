/**
 * No dependency a user installs may exclude a Node version the package claims: every package of a
 * production install (package-lock.json entries that are not dev-only) and of each optional peer
 * dependency's tree must declare `engines.node` covering all of ours (semver subset), or none.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ROOT } from './dist.js';

interface LockEntry {
  version?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; peerDependencies: Record<string, string> };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };

/** The lock path `from`'s dependency `name` resolves to (node_modules lookup up the tree). */
function resolve(from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = `${base ? `${base}/` : ''}node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const at = base.lastIndexOf('node_modules/');
    base = at <= 0 ? '' : base.slice(0, at - 1);
  }
}

/** `root` and everything it depends on, as lock paths. */
function tree(root: string): Set<string> {
  const seen = new Set<string>();
  const visit = (path: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    const entry = lock.packages[path]!;
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const found = resolve(path, name);
      if (found) visit(found);
    }
  };
  visit(root);
  return seen;
}

function nodeRange(entry: LockEntry): string | undefined {
  return Array.isArray(entry.engines) ? undefined : entry.engines?.node;
}

describe('engines', () => {
  const ours = pkg.engines.node;

  it('claims only Node lines CI runs (20 and 24)', () => {
    expect(ours).toBe('^20.19.0 || ^24.0.0');
    expect(semver.satisfies(process.version, ours)).toBe(true);
  });

  it('every production dependency supports every Node version we claim', () => {
    const production = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && !entry.dev);
    expect(production.length).toBeGreaterThan(50);
    const excluding = production
      .filter(([, entry]) => nodeRange(entry) !== undefined && !semver.subset(ours, nodeRange(entry)!, { includePrerelease: false }))
      .map(([path, entry]) => `${path}@${entry.version} engines.node ${nodeRange(entry)}`);
    expect(excluding).toEqual([]);
  });

  it.each(Object.keys(pkg.peerDependencies))('the optional peer %s and its dependencies support every Node version we claim', (peer) => {
    const root = resolve('', peer);
    expect(root, `${peer} is a devDependency, so the lock has the tested version`).toBeDefined();
    expect(semver.satisfies(lock.packages[root!]!.version!, pkg.peerDependencies[peer]!)).toBe(true);
    const excluding = [...tree(root!)]
      .map((path) => [path, lock.packages[path]!] as const)
      .filter(([, entry]) => nodeRange(entry) !== undefined && !semver.subset(ours, nodeRange(entry)!))
      .map(([path, entry]) => `${path}@${entry.version} engines.node ${nodeRange(entry)}`);
    expect(excluding).toEqual([]);
  });

  it('would catch a dependency that excludes one of our versions', () => {
    expect(semver.subset(ours, '>= 22.x')).toBe(false); // @nats-io/nuid 3.0.0
    expect(semver.subset(ours, '20.x || 22.x || 23.x || 24.x || 25.x || 26.x')).toBe(true); // better-sqlite3 12
  });
});
