/**
 * A bundle ready to serve: the loaded documents, the catalog with its generated validators, the
 * compiled envelope and one encoder per stream channel. Built once at start.
 */
import { resolve } from 'node:path';
import type { WireEncoder } from '../stream/wire-encoder.js';
import { createSseEncoder } from '../stream/sse-encoder.js';
import { createWsEncoder } from '../stream/ws-encoder.js';
import type { Bundle, BundleOperation } from './bundle.js';
import { compileEnvelope, type EnvelopeEncoder } from './envelope.js';
import { loadEventCatalog, type EventCatalog } from './event-catalog.js';
import { loadBundle, NATIVE_BUNDLE_DIR } from './load-bundle.js';

export interface ServedBundle {
  bundle: Bundle;
  catalog: EventCatalog;
  envelope: EnvelopeEncoder;
  encoders: { sse?: WireEncoder; ws?: WireEncoder };
  /** The first operation with `role`, if the bundle has one. */
  operation(role: BundleOperation['role']): BundleOperation | undefined;
}

/** Loads and compiles the bundle in `dir` (empty or undefined: the native `specs/`). Throws BundleError. */
export async function openServedBundle(dir?: string): Promise<ServedBundle> {
  const bundle = loadBundle(dir ? resolve(dir) : NATIVE_BUNDLE_DIR);
  const catalog = await loadEventCatalog(bundle);
  const envelope = compileEnvelope(bundle.envelope);
  const encoders: ServedBundle['encoders'] = {};
  if (bundle.channels.sse) encoders.sse = createSseEncoder(bundle.channels.sse, envelope);
  if (bundle.channels.ws) encoders.ws = createWsEncoder(bundle.channels.ws, envelope);
  return {
    bundle,
    catalog,
    envelope,
    encoders,
    operation: (role) => bundle.operations.find((op) => op.role === role),
  };
}
