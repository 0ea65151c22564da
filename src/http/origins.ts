import type { AddressInfo } from 'node:net';
import type { Config } from '../config/load-config.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The origin (RFC 6454) of `public_url`, or undefined when it is empty. Throws a RangeError
 * naming the option when it is not an absolute http(s) URL.
 */
export function publicOrigin(publicUrl: string): string | undefined {
  if (publicUrl === '') return undefined;
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    throw new RangeError(`public_url "${publicUrl}" is not an absolute URL (e.g. https://events.example.com)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`public_url "${publicUrl}" must be an http or https URL`);
  return url.origin;
}

/**
 * The origins whose pages may open a WebSocket stream with a browser's ambient credentials, decided
 * from configuration only, never from the request (a `Host` header is the attacker's to choose
 * under DNS rebinding): every origin of `cors_origins` (`*` for any), the origin of `public_url`,
 * and, when `public_url` is empty and the server listens on a loopback interface, its own address
 * (`http://127.0.0.1:PORT`, `http://localhost:PORT`, `http://[::1]:PORT`), so that the console it
 * serves works out of the box. A server on all interfaces (`0.0.0.0`) needs `public_url` for that.
 */
export class AllowedOrigins {
  readonly #any: boolean;
  readonly #origins: Set<string>;

  constructor(config: Pick<Config, 'cors_origins' | 'public_url' | 'host'>, listening: AddressInfo | undefined) {
    this.#any = config.cors_origins.includes('*');
    this.#origins = new Set(config.cors_origins.filter((origin) => origin !== '*').map(normalise));
    const own = publicOrigin(config.public_url);
    if (own !== undefined) this.#origins.add(own);
    else if (listening !== undefined && LOOPBACK.has(config.host)) {
      for (const host of ['127.0.0.1', 'localhost', '[::1]']) this.#origins.add(`http://${host}:${listening.port}`);
    }
  }

  /** True when a page of `origin` (the request's `Origin` header value) may open a stream. */
  allows(origin: string): boolean {
    return this.#any || this.#origins.has(normalise(origin));
  }
}

/** `HTTPS://Example.com:443` -> `https://example.com`; an unparsable value stays as it is (and matches nothing configured). */
function normalise(origin: string): string {
  try {
    const url = new URL(origin);
    return url.origin === 'null' ? origin : url.origin;
  } catch {
    return origin;
  }
}
