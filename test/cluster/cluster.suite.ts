/**
 * What several Specstream nodes over one shared backend promise (issue 5, item 3), as one suite
 * that each clustered backend's test file runs: any node accepts publishes and serves streams,
 * every subscriber on every node receives the identical sequence, a client that loses its node
 * resumes on another with Last-Event-ID and misses nothing, and a backend outage makes publishes
 * fail with 503 STORE_UNAVAILABLE (never acknowledging what was not stored) and `/readyz` 503,
 * with streams resuming by themselves once it returns.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SpawnedServer } from '../helpers/spawn-server.js';
import {
  AUTH,
  ORIGIN_ID,
  Subscriber,
  TcpProxy,
  expectStrictlyIncreasing,
  publish,
  runPublisher,
  startNode,
  type Acknowledged,
} from './harness.js';

/** A fresh, empty log on the backend for one test. */
export interface ClusterBackend {
  /** The store URL every node of the test uses. */
  url: string;
  /** The same log reached through `127.0.0.1:port` (a TCP proxy) instead of the real address. */
  urlVia(port: number): string;
  /** The backend's real host and port (the proxy's target). */
  host: string;
  port: number;
  /** Removes the log (schema, stream). */
  cleanup(): Promise<void>;
}

export function describeCluster(name: string, backend: () => Promise<ClusterBackend>): void {
  describe(name, () => {
    const nodes: SpawnedServer[] = [];
    const subscribers: Subscriber[] = [];
    const proxies: TcpProxy[] = [];
    let log: ClusterBackend | undefined;

    afterEach(async () => {
      for (const subscriber of subscribers.splice(0)) subscriber.close();
      await Promise.all(nodes.splice(0).map((node) => node.stop('SIGKILL')));
      for (const proxy of proxies.splice(0)) await proxy.stop();
      await log?.cleanup();
      log = undefined;
    });

    async function node(url: string): Promise<SpawnedServer> {
      const started = await startNode(url);
      nodes.push(started);
      return started;
    }

    async function subscribe(baseUrl: string, query: string, lastEventId?: string): Promise<Subscriber> {
      const subscriber = await Subscriber.open(baseUrl, query, lastEventId);
      subscribers.push(subscriber);
      expect(subscriber.status).toBe(200);
      return subscriber;
    }

    it('two nodes: 4 publishers over both, 20,000 events, subscribers on both receive the identical complete sequence', async () => {
      log = await backend();
      const [a, b] = await Promise.all([node(log.url), node(log.url)]);
      const onA = await subscribe(a!.url, `?since_id=${ORIGIN_ID}`);
      const onB = await subscribe(b!.url, `?since_id=${ORIGIN_ID}`);

      const total = 20_000;
      const perPublisher = total / 4;
      const deadline = Date.now() + 50_000;
      const published = await Promise.all(
        [a!, b!, a!, b!].map((target, p) => runPublisher(() => target.url, p, perPublisher, 50, { deadline })),
      );
      const acked = published.flat();
      expect(acked).toHaveLength(total);

      await onA.waitFor(() => onA.ids.length >= total, 'all events on node A', 30_000);
      await onB.waitFor(() => onB.ids.length >= total, 'all events on node B', 30_000);

      expect(onA.ids).toHaveLength(total);
      expect(onB.ids).toEqual(onA.ids);
      expectStrictlyIncreasing(onA.ids, 'node A');
      expect(new Set(onA.ids)).toEqual(new Set(acked.map((e) => e.id)));
      // Each publisher's events arrive in the order it published them.
      for (let p = 0; p < 4; p++) {
        const mine = onA.entries.filter((entry) => entry.startsWith(`p${p}-`));
        expect(mine).toEqual(published[p]!.map((e) => `p${p}-${e.n}`));
      }
    }, 90_000);

    it('kill -9 of a node mid-stream: the client resumes on the other node with Last-Event-ID and misses nothing', async () => {
      log = await backend();
      const [a, b] = await Promise.all([node(log.url), node(log.url)]);
      const onA = await subscribe(a!.url, `?since_id=${ORIGIN_ID}`);

      const acked: Acknowledged[] = [];
      const publishing = Promise.all(
        [0, 1].map((p) => runPublisher(() => b!.url, p, 3000, 20, { onAck: (acks) => acked.push(...acks) })),
      );
      await onA.waitFor(() => onA.ids.length >= 1000, '1,000 events on node A', 30_000);
      await a!.stop('SIGKILL');
      await onA.waitFor(() => onA.ended, 'the stream from the killed node to end', 10_000);
      const seenOnA = [...onA.ids];

      const onB = await subscribe(b!.url, '', seenOnA.at(-1));
      await publishing;
      await onB.waitFor(() => onB.ids.length + seenOnA.length >= acked.length, 'the rest on node B', 30_000);

      const resumed = [...seenOnA, ...onB.ids];
      expectStrictlyIncreasing(resumed, 'A then B');
      expect(new Set(resumed)).toEqual(new Set(acked.map((e) => e.id)));
      // The same sequence a fresh reader of the whole log gets: no gap, no duplicate at the seam.
      const whole = await subscribe(b!.url, `?since_id=${ORIGIN_ID}`);
      await whole.waitFor(() => whole.ids.length >= resumed.length, 'the whole log', 30_000);
      expect(whole.ids).toEqual(resumed);
    }, 90_000);

    it('a live-only stream opened on a node still following a burst starts at the log\'s head, not at its tail', async () => {
      log = await backend();
      // The older node publishes (the JetStream writer); the other one is frozen through the burst,
      // so that it is still following it when the stream opens.
      const writer = await node(log.url);
      const lagging = await node(log.url);
      lagging.process.kill('SIGSTOP');
      let burst: Acknowledged[];
      try {
        burst = (await Promise.all([0, 1, 2, 3].map((p) => runPublisher(() => writer.url, p, 600, 1)))).flat();
      } finally {
        lagging.process.kill('SIGCONT');
      }
      const live = await subscribe(lagging.url, '');
      // The stream starts where its resume point says, the log's head: every burst event is before it.
      await live.waitFor(() => live.positions.length > 0, 'the resume point', 30_000);
      expect(live.positions[0]! >= burst.map((e) => e.id).sort().at(-1)!).toBe(true);

      const marker = await publish(writer.url, 9, [0]);
      expect(marker.status).toBe(201);
      // Once the node has followed the whole log, the stream has had every chance to show older events.
      const whole = await subscribe(lagging.url, `?since_id=${ORIGIN_ID}`);
      await whole.waitFor(() => whole.ids.length >= burst.length + 1, 'the whole log on the lagging node', 60_000);
      await live.waitFor(() => live.ids.length >= 1, 'the event published after the stream opened', 30_000);
      expect(live.ids).toEqual(marker.ids);
    }, 120_000);

    it('backend outage mid-stream: publishes 503 (STORE_UNAVAILABLE or STORE_TIMEOUT), /readyz 503, no acknowledged event lost, the stream resumes by itself', async () => {
      log = await backend();
      const proxy = new TcpProxy(log.host, log.port);
      proxies.push(proxy);
      await proxy.start();
      const viaProxy = await node(log.urlVia(proxy.port));
      const direct = await node(log.url);
      const onProxied = await subscribe(viaProxy.url, `?since_id=${ORIGIN_ID}`);

      const acked: Acknowledged[] = [];
      let stop = false;
      const publishing = Promise.all(
        [0, 1].map((p) =>
          runPublisher(() => viaProxy.url, p, 1_000_000, 10, { onAck: (acks) => acked.push(...acks), stop: () => stop, deadline: Date.now() + 60_000 }),
        ),
      );
      await onProxied.waitFor(() => onProxied.ids.length >= 300, '300 events before the outage', 30_000);

      await proxy.cut();
      // Nothing is acknowledged while the backend is out of reach.
      let outage: Awaited<ReturnType<typeof publish>> | undefined;
      const outageDeadline = Date.now() + 20_000;
      do {
        outage = await publish(viaProxy.url, 9, [0]);
      } while (outage.status !== 503 && Date.now() < outageDeadline);
      // STORE_UNAVAILABLE (nothing was sent) or STORE_TIMEOUT (sent, never confirmed: it may have been
      // stored, and a retry with its Idempotency-Key settles it); either way it is not acknowledged.
      expect(outage.status).toBe(503);
      expect(['STORE_UNAVAILABLE', 'STORE_TIMEOUT']).toContain(outage.code);
      const ready = await fetch(`${viaProxy.url}/readyz`, { headers: AUTH });
      expect(ready.status).toBe(503);
      const ackedDuringOutage = acked.length;
      // The other node, which still reaches the backend, keeps accepting.
      expect((await publish(direct.url, 8, [0])).status).toBe(201);

      await proxy.restore();
      const readyAgain = Date.now() + 20_000;
      while ((await fetch(`${viaProxy.url}/readyz`)).status !== 200) {
        if (Date.now() > readyAgain) throw new Error('/readyz did not recover');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const target = acked.length + 300;
      const resumeDeadline = Date.now() + 30_000;
      while (acked.length < target && Date.now() < resumeDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
      stop = true;
      await publishing;
      expect(acked.length).toBeGreaterThan(ackedDuringOutage);

      // Every acknowledged event reaches the subscriber that stayed connected through the outage.
      let missing = acked.map((e) => e.id);
      await onProxied.waitFor(
        () => (missing = missing.filter((id) => !onProxied.seen.has(id))).length === 0,
        'every acknowledged event after the outage',
        30_000,
      );
      expectStrictlyIncreasing(onProxied.ids, 'through the outage');
      expect(onProxied.ended).toBe(false);
    }, 120_000);
  });
}
