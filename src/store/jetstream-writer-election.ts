import { randomBytes } from 'node:crypto';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';

/** Who publishes to the stream, as this node sees it: itself, another node, or nobody known yet. */
export type WriterRole = 'self' | 'other' | 'none';

/** Options of a {@link WriterElection}. */
export interface WriterElectionOptions {
  /**
   * This log's subject prefix for its nodes (outside the stream's subjects): `<prefix>.who`
   * answers roll calls, `<prefix>.append.<nodeId>` takes forwarded groups.
   */
  prefix: string;
  /** How often the node calls the roll, ms. Defaults to 1000. */
  intervalMs?: number;
  /** How long a roll call waits for answers, ms. Defaults to 100. */
  answerMs?: number;
  /** A group another node forwarded to this one (see `jetstream-forwarding.ts`). */
  onForward: (message: Msg) => void;
}

/**
 * Which node of a JetStream log publishes: the **oldest node that answers**. Every node answers
 * roll calls on `<prefix>.who` with its id (its start time, then random digits, so ids sort by
 * age) and takes forwarded groups on `<prefix>.append.<its id>`; every node calls the roll every
 * `intervalMs` and elects the smallest id it heard (itself included). A node that dies or is cut
 * off stops answering at once (NATS drops its subscriptions with its connection): forwards to it
 * fail with "no responders", the forwarding node publishes itself and calls the roll again.
 *
 * There is no stored state and no lease to expire. Nodes may briefly disagree (one joining, one
 * leaving): then several publish, and the stream's expectations keep the order; they only refuse
 * each other some publishes, until the next roll call.
 */
export class WriterElection {
  /** This node's id: start time (ms, base 36, fixed width) and 8 random hex digits. */
  readonly nodeId = `${Date.now().toString(36).padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
  #writer: string | undefined;
  #subscriptions: Subscription[] = [];
  #timer: NodeJS.Timeout | undefined;
  #rollCall: Promise<void> | undefined;
  #stopped = false;
  readonly #intervalMs: number;
  readonly #answerMs: number;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: WriterElectionOptions,
  ) {
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#answerMs = options.answerMs ?? 100;
  }

  /** What this node believes. */
  get role(): WriterRole {
    if (this.#writer === undefined) return 'none';
    return this.#writer === this.nodeId ? 'self' : 'other';
  }

  /** The subject taking the writer's forwarded groups (when `role` is `other`). */
  get writerSubject(): string {
    return `${this.options.prefix}.append.${this.#writer ?? this.nodeId}`;
  }

  /** Answers roll calls and takes forwarded groups from now on; calls the roll now and every `intervalMs`. */
  start(): void {
    const { prefix, onForward } = this.options;
    this.#subscriptions.push(
      this.nc.subscribe(`${prefix}.who`, {
        callback: (error, message) => {
          if (error === null && !this.#stopped) message.respond(this.nodeId);
        },
      }),
      this.nc.subscribe(`${prefix}.append.${this.nodeId}`, {
        callback: (error, message) => {
          if (error === null) onForward(message);
        },
      }),
    );
    this.#timer = setInterval(() => void this.callRoll(), this.#intervalMs);
    this.#timer.unref();
    void this.callRoll();
  }

  /** The writer did not answer a forward: publish yourself until the next roll call, which starts now. */
  writerGone(): void {
    if (this.role === 'other') this.#writer = undefined;
    void this.callRoll();
  }

  /** One roll call; concurrent calls share it. Resolves when it is over (never rejects). */
  callRoll(): Promise<void> {
    this.#rollCall ??= this.#callRoll().finally(() => {
      this.#rollCall = undefined;
    });
    return this.#rollCall;
  }

  /** Stops answering (the other nodes then elect another writer) and calling the roll. Safe to call twice. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    for (const subscription of this.#subscriptions.splice(0)) subscription.unsubscribe();
    this.#writer = undefined;
  }

  async #callRoll(): Promise<void> {
    if (this.#stopped) return;
    let oldest = this.nodeId;
    try {
      const answers = await this.nc.requestMany(`${this.options.prefix}.who`, '', { strategy: 'timer', maxWait: this.#answerMs });
      for await (const answer of answers) {
        const id = answer.string();
        if (id < oldest) oldest = id;
      }
    } catch {
      // NATS unreachable (or nobody else answered in a way it reports as an error): publish ourselves.
    }
    if (!this.#stopped) this.#writer = oldest;
  }
}
