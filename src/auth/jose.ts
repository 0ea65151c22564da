/**
 * The `jose` library (JWS/JWT, RFC 7515/7519), loaded the first time a token is verified or
 * signed, or a JWKS is read, rather than when the server starts: a server without tokens never
 * holds it (memory at rest, README "Benchmarks"). It is loaded synchronously (`require` of an ES
 * module, on by default from Node 20.19 and in every Node version `engines` names) so that the
 * synchronous code that reads a JWKS file at start can use it too; `import('jose')` elsewhere gets
 * the same module instance, so its error classes match.
 */
import { createRequire } from 'node:module';

type Jose = typeof import('jose');

let loaded: Jose | undefined;

/** The `jose` module, loaded at the first call. */
export function jose(): Jose {
  return (loaded ??= createRequire(import.meta.url)('jose') as Jose);
}
