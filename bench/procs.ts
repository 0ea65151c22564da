/**
 * What the benchmark reads of and does to processes: CPU time and resident memory from Linux
 * `/proc`, the core pinning (servers on one core, the harness on the others) and the file
 * descriptor limit.
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';

/** User + system CPU seconds a process has used so far (Linux /proc; NaN elsewhere). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // fields 14 and 15: utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/** Resident memory of a process in KiB (VmRSS), or NaN when it is gone or not on Linux. */
export function rssKiB(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** How servers and the harness share the cores. */
export interface Pinning {
  /** Prefix of a server's command line (`taskset -c 0`), or empty when not pinning. */
  server: string[];
  /** What the report says about it. */
  description: string;
}

/**
 * With two or more cores and `taskset` available: servers on core 0, this process (and so the
 * publisher and subscribers it spawns) on the other cores. Otherwise nothing is pinned.
 * `BENCH_PIN=0` turns pinning off.
 */
export function pinCores(): Pinning {
  const count = cpus().length;
  if (process.env.BENCH_PIN === '0') return { server: [], description: 'not pinned (BENCH_PIN=0)' };
  if (count < 2) return { server: [], description: 'not pinned (one core)' };
  const harness = count === 2 ? '1' : `1-${count - 1}`;
  try {
    // -a: every thread of this process (libuv's pool, V8's), not only the main one.
    execFileSync('taskset', ['-a', '-pc', harness, String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { server: [], description: 'not pinned (taskset unavailable)' };
  }
  return { server: ['taskset', '-c', '0'], description: `servers on core 0, harness on core${count === 2 ? '' : 's'} ${harness} (taskset)` };
}

/**
 * Raises this process's open-file limit (inherited by the servers and clients it spawns) to
 * `wanted`, or to the hard limit when it cannot go higher. Returns the soft limit now in force.
 */
export function raiseFileLimit(wanted: number): number {
  try {
    execFileSync('prlimit', [`--nofile=${wanted}:${wanted}`, '--pid', String(process.pid)], { stdio: 'ignore' });
  } catch {
    try {
      execFileSync('prlimit', [`--nofile=${wanted}`, '--pid', String(process.pid)], { stdio: 'ignore' });
    } catch {
      // Not permitted: keep what we have.
    }
  }
  try {
    const out = execFileSync('prlimit', ['--nofile', '--noheadings', '--raw', '--output=SOFT', '--pid', String(process.pid)], { encoding: 'utf8' });
    return Number(out.trim());
  } catch {
    return Number.NaN;
  }
}

/** The median of `values` (NaN for none; NaNs ignored). */
export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
