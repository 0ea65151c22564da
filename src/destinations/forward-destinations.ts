/**
 * The destination types a `forward.yaml` can name: each type's options (snake_case, as in the file)
 * and how they become a {@link Destination}. A custom destination is used from code instead
 * (`forwarder.addDestination(myDestination)`).
 */
import { z } from 'zod';
import type { Destination } from './destination.js';
import { FileDestination } from './file-destination.js';
import { WebhookDestination } from './webhook-destination.js';

/** What building a destination from the file needs besides its options. */
export interface CreateContext {
  /** The entry's `name`, if it gave one. */
  name: string | undefined;
  /** Resolves a path in the file against the file's directory (`-` stays stdout). */
  resolvePath(path: string): string;
}

interface DestinationKind<S extends z.ZodRawShape> {
  schema: z.ZodObject<S>;
  create(options: z.infer<z.ZodObject<S>>, context: CreateContext): Destination;
}

function kind<S extends z.ZodRawShape>(schema: z.ZodObject<S>, create: DestinationKind<S>['create']): DestinationKind<S> {
  return { schema, create };
}

const headers = z.record(z.string(), z.string());

/** Every type, by the name used in `type:`. */
export const DESTINATION_TYPES = {
  file: kind(z.object({ path: z.string().min(1) }), (o, c) => new FileDestination({ path: c.resolvePath(o.path), ...(c.name ? { name: c.name } : {}) })),
  stdout: kind(z.object({}), (_o, c) => new FileDestination({ path: '-', ...(c.name ? { name: c.name } : {}) })),
  webhook: kind(
    z.object({ url: z.url({ protocol: /^https?$/ }), secret: z.string().min(1), headers: headers.optional(), timeout_ms: z.number().int().positive().optional() }),
    (o, c) =>
      new WebhookDestination({
        url: o.url,
        secret: o.secret,
        ...(o.headers ? { headers: o.headers } : {}),
        ...(o.timeout_ms !== undefined ? { timeoutMs: o.timeout_ms } : {}),
        ...(c.name ? { name: c.name } : {}),
      }),
  ),
};

/** A `type:` a `forward.yaml` destination may have. */
export type DestinationType = keyof typeof DESTINATION_TYPES;
