/**
 * nchan (https://nchan.io, nginx + `libnginx-mod-nchan`) as the third server of `npm run bench`:
 * the C pub/sub server Specstream is measured against. It stores nothing on disk, authenticates
 * no one and validates nothing; it is here because it is what a team would otherwise deploy.
 *
 * One nginx worker (`worker_processes 1`), its config, pid, logs and temp files in a scratch
 * directory of the run; the same paths as Specstream's on one channel: `POST /v1/events` publishes
 * (the body is the message), `GET /v1/events/stream` is an EventSource subscriber and
 * `GET /v1/events/ws` a WebSocket subscriber. New subscribers start at the next message
 * (`nchan_subscriber_first_message newest`), as Specstream's live-only streams do. CPU and memory
 * are read from the worker's `/proc/PID` (the master only supervises).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/** The module Debian's `libnginx-mod-nchan` installs. */
const MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so';
const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'];
/** How to get it on Debian or Ubuntu. */
export const NCHAN_INSTALL = 'apt-get install -y nginx-light libnginx-mod-nchan';

/** The nginx binary when nginx and the nchan module are installed, else the reason it is not. */
export function findNchan(): { nginx: string } | { missing: string } {
  const nginx = NGINX.find((path) => existsSync(path));
  if (nginx === undefined) return { missing: `nginx is not installed (${NCHAN_INSTALL})` };
  if (!existsSync(MODULE)) return { missing: `the nchan module ${MODULE} is not installed (${NCHAN_INSTALL})` };
  return { nginx };
}

/** A running nchan: its URL, the nginx master (the child) and its worker's pid. */
export interface RunningNchan {
  url: string;
  child: ChildProcess;
  /** The worker process: the one that serves every connection, and the one to measure. */
  workerPid: number;
}

/** A free TCP port on loopback (nginx cannot listen on port 0 and report it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The nginx config of one run: one worker, nchan on Specstream's paths, everything under `dir`. */
export function nchanConfig(dir: string, port: number, pingSeconds: number): string {
  return `load_module ${MODULE};
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 65536;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 30000; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} backlog=16384;
    location = /v1/events { nchan_publisher http; nchan_channel_id bench; }
    location = /v1/events/stream {
      nchan_subscriber eventsource;
      nchan_channel_id bench;
      nchan_subscriber_first_message newest;
      nchan_eventsource_ping_interval ${pingSeconds};
    }
    location = /v1/events/ws {
      nchan_subscriber websocket;
      nchan_channel_id bench;
      nchan_subscriber_first_message newest;
      nchan_websocket_ping_interval ${pingSeconds};
    }
  }
}
`;
}

/**
 * Starts nginx with nchan (in the foreground, as a child of this process, so it is reaped),
 * prefixed by `pin` (e.g. `taskset -c 0`), and resolves once it answers. `pingSeconds`: the
 * EventSource and WebSocket keep-alive interval (what Specstream's `heartbeat_s` is).
 */
export async function startNchan(nginx: string, dir: string, pin: string[], pingSeconds: number): Promise<RunningNchan> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const config = join(dir, 'nginx.conf');
  writeFileSync(config, nchanConfig(dir, port, pingSeconds));
  const command = [...pin, nginx, '-c', config, '-p', dir];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}${readLog(dir)}`);
    const workerPid = workerOf(child.pid!);
    if (workerPid !== undefined && (await answers(url))) return { url, child, workerPid };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not start within 10 s: ${stderr}${readLog(dir)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function readLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/v1/events`, { method: 'GET', headers: { Accept: 'text/json' } });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/** The pid of the first child of `pid` (nginx's worker), from `/proc`. */
function workerOf(pid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    if (children.length > 0) return Number(children[0]);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: nothing to read; fall through.
  }
  return undefined;
}

/** Stops nginx (SIGTERM: fast shutdown; SIGKILL after 5 s) and waits for it. */
export async function stopNchan(running: RunningNchan): Promise<void> {
  const { child } = running;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    try {
      process.kill(running.workerPid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await exited;
  }
}
