import type { Bundle } from '../../src/bundle/bundle.js';
import { compileEnvelope } from '../../src/bundle/envelope.js';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { createSseEncoder } from '../../src/stream/sse-encoder.js';
import type { WireEncoder } from '../../src/stream/wire-encoder.js';
import { createWsEncoder } from '../../src/stream/ws-encoder.js';

const cache = new Map<string, WireEncoder>();

/** The native bundle (specs/), loaded once. */
export function nativeBundle(): Bundle {
  return loadBundle();
}

/** The native bundle's encoder for `kind`, built once per test file. */
export function nativeEncoder(kind: 'sse' | 'ws'): WireEncoder {
  let encoder = cache.get(kind);
  if (!encoder) {
    const bundle = nativeBundle();
    const envelope = compileEnvelope(bundle.envelope);
    encoder = kind === 'sse' ? createSseEncoder(bundle.channels.sse!, envelope) : createWsEncoder(bundle.channels.ws!, envelope);
    cache.set(kind, encoder);
  }
  return encoder;
}
