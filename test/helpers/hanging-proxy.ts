import { createServer, connect as connectTcp, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to `target` on an ephemeral port that can *hang*: `hang()` stops forwarding in both
 * directions while every connection stays open (new ones are accepted too, and stall), as a
 * backend does when its machine freezes or a network drops packets without resetting. `resume()`
 * forwards again, including what was held back.
 */
export class HangingProxy {
  readonly #links = new Set<Link>();
  #server: Server | undefined;
  #hung = false;
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connectTcp({ host: this.targetHost, port: this.targetPort });
      const link: Link = { client, upstream, held: [] };
      this.#links.add(link);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#links.delete(link);
      };
      for (const socket of [client, upstream]) {
        socket.on('error', drop);
        socket.on('close', drop);
      }
      client.on('data', (chunk: Buffer) => this.#forward(link, upstream, chunk));
      upstream.on('data', (chunk: Buffer) => this.#forward(link, client, chunk));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#server = server;
    this.port = (server.address() as { port: number }).port;
  }

  /** Stops forwarding (what arrives is held back); connections stay open and nothing is answered. */
  hang(): void {
    this.#hung = true;
  }

  /** Forwards again, held-back data first. */
  resume(): void {
    this.#hung = false;
    for (const link of this.#links) {
      for (const [to, chunk] of link.held.splice(0)) to.write(chunk);
    }
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.#links) {
      client.destroy();
      upstream.destroy();
    }
    this.#links.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #forward(link: Link, to: Socket, chunk: Buffer): void {
    if (this.#hung) link.held.push([to, chunk]);
    else to.write(chunk);
  }
}

interface Link {
  client: Socket;
  upstream: Socket;
  /** Data that arrived while hung, in order, with where it goes. */
  held: Array<[Socket, Buffer]>;
}
