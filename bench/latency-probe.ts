import { openSse } from './subscribers.js';
import { benchEvent, now, percentile, AUTH } from './common.js';
import { spawn } from 'node:child_process';
const child = spawn(process.execPath, ['--import', 'tsx', 'bench/specstream-server.ts', '/tmp/probe.db'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url: string = await new Promise((r) => child.stdout!.on('data', (d: Buffer) => { const m = /READY (\S+)/.exec(d.toString()); if (m) r(m[1]!); }));
const subs = [];
for (let i = 0; i < 10; i++) subs.push(await openSse(url, true));
for (let i = 0; i < 500; i++) {
  const body = benchEvent(i, now());
  await fetch(`${url}/v1/events`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'application/json' }, body });
  await new Promise((r) => setTimeout(r, 2));
}
await new Promise((r) => setTimeout(r, 200));
const lat = subs.flatMap((s) => s.latencies!);
console.log('n', lat.length, 'p50', percentile(lat, 50).toFixed(2), 'p99', percentile(lat, 99).toFixed(2));
const postLat: number[] = [];
for (let i = 0; i < 200; i++) { const t = now(); await fetch(`${url}/v1/events`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'application/json' }, body: benchEvent(i, t) }); postLat.push(now() - t); }
console.log('POST p50', percentile(postLat, 50).toFixed(2), 'p99', percentile(postLat, 99).toFixed(2));
for (const s of subs) s.close();
child.kill('SIGTERM');
