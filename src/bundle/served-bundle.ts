/**
 * A bundle ready to serve: the loaded documents, its generated code (the catalog's validators and
 * the operations' query checkers), the compiled envelope and one encoder per stream channel.
 * Built once at start.
 */
import { resolve } from 'node:path';
import type { WireEncoder } from '../stream/wire-encoder.js';
import { createSseEncoder } from '../stream/sse-encoder.js';
import { createWsEncoder } from '../stream/ws-encoder.js';
import type { Bundle, BundleOperation } from './bundle.js';
import { compileEnvelope, type EnvelopeEncoder } from './envelope.js';
import type { QueryChecker } from '../generated/query.js';
import { eventCatalogOf, type EventCatalog } from './event-catalog.js';
import { loadGeneratedCode, type LoadGeneratedCodeOptions } from './generated-code.js';
import { loadBundle, NATIVE_BUNDLE_DIR } from './load-bundle.js';

export interface ServedBundle {
  bundle: Bundle;
  catalog: EventCatalog;
  /**
   * The generated query checker of each list, stream and check operation, by operationId: the
   * bundle's `x-specstream-query-rules` compiled by `specstream generate` (src/generated/query.ts
   * for the native bundle). Every such operation has one (`loadGeneratedCode` refuses code without).
   * Opened with `validators: 'lazy'`, usable after `loadValidators()` (before, reading it throws).
   */
  readonly queryCheckers: Readonly<Record<string, QueryChecker>>;
  /**
   * Imports the validators (the checkers above and `catalog.dataSchema`) if not yet done: the
   * server awaits it before its first request is handled. Resolves at once when they are loaded.
   */
  loadValidators(): Promise<void>;
  envelope: EnvelopeEncoder;
  encoders: { sse?: WireEncoder; ws?: WireEncoder };
  /** The first operation with `role`, if the bundle has one. */
  operation(role: BundleOperation['role']): BundleOperation | undefined;
}

/**
 * Loads and compiles the bundle in `dir` (empty or undefined: the native `specs/`). Throws
 * BundleError for a bad bundle and for generated code that is missing or stale. `options.validators`
 * (default `'eager'`) is as for `loadGeneratedCode`.
 */
export async function openServedBundle(dir?: string, options: LoadGeneratedCodeOptions = {}): Promise<ServedBundle> {
  const bundle = loadBundle(dir ? resolve(dir) : NATIVE_BUNDLE_DIR);
  const generated = await loadGeneratedCode(bundle, options);
  const catalog = eventCatalogOf(generated);
  const envelope = compileEnvelope(bundle.envelope);
  const encoders: ServedBundle['encoders'] = {};
  if (bundle.channels.sse) encoders.sse = createSseEncoder(bundle.channels.sse, envelope);
  if (bundle.channels.ws) encoders.ws = createWsEncoder(bundle.channels.ws, envelope);
  return {
    bundle,
    catalog,
    get queryCheckers() {
      return generated.queryCheckers;
    },
    loadValidators: () => generated.loadValidators(),
    envelope,
    encoders,
    operation: (role) => bundle.operations.find((op) => op.role === role),
  };
}
