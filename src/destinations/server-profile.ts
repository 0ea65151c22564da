/**
 * The SDK profile of the bundle a server serves, read from the server itself: every Specstream
 * bundle serves its own documents at `GET /specs/openapi.yaml` and `GET /specs/asyncapi.yaml`
 * (operation `spec`, public), which the SDK's bundle reader parses (`parseClientProfile`). Unlike the
 * SDK's `specsFromServer`, a server without them (404) is the native protocol rather than an error,
 * and each document has a size limit and a deadline. The bundle modules are imported on first use,
 * so importing `specstream/destinations` does not load them.
 */
import type { ClientProfile } from '../client/profile.js';

/** Most bytes of one spec document read from a server: 16 MiB. */
export const MAX_SPEC_BYTES = 16 * 1024 * 1024;

/** Deadline of each spec request: 30 000 ms. */
export const SPEC_TIMEOUT_MS = 30_000;

/** Options of {@link serverProfile}. */
export interface ServerProfileOptions {
  /** The fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /** Deadline of each request, in ms. Defaults to {@link SPEC_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Fetches the server's `openapi.yaml` and `asyncapi.yaml` and gives its profile; undefined when the
 * server serves no `/specs/` documents (404: a server older than spec bundles, which speaks the
 * native protocol).
 * @throws Error when the server cannot be reached, answers another error or sends a document over
 *   {@link MAX_SPEC_BYTES}; the SDK's ProfileError `INVALID_BUNDLE` (with the loader's file#pointer
 *   lines) when the documents are not a bundle this version reads
 */
export async function serverProfile(url: string, options: ServerProfileOptions = {}): Promise<ClientProfile | undefined> {
  const [openapi, asyncapi] = await Promise.all(['openapi.yaml', 'asyncapi.yaml'].map((file) => fetchSpec(url, file, options)));
  if (openapi === undefined || asyncapi === undefined) return undefined;
  const { parseClientProfile } = await import('../client/bundle-profile.js');
  return parseClientProfile(new URL(url).host, { openapi, asyncapi });
}

/** `GET <url>/specs/<file>` as text; undefined on 404. */
async function fetchSpec(base: string, file: string, options: ServerProfileOptions): Promise<string | undefined> {
  const url = new URL(`specs/${file}`, base.endsWith('/') ? base : `${base}/`);
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  let response: Response;
  try {
    response = await fetchImpl(url, { headers: { Accept: 'application/yaml, text/yaml, */*' }, signal: AbortSignal.timeout(options.timeoutMs ?? SPEC_TIMEOUT_MS) });
  } catch (error) {
    throw new Error(`cannot read ${url.href} to learn the server's stream format: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (response.status === 404) {
    await response.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`GET ${url.href} answered ${response.status}: cannot learn the server's stream format (pass \`profile\` or \`specs\`)`);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (declared > MAX_SPEC_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw new Error(`GET ${url.href}: ${declared} bytes, over the limit of ${MAX_SPEC_BYTES}`);
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > MAX_SPEC_BYTES) {
      await reader.cancel().catch(() => {});
      throw new Error(`GET ${url.href}: more than ${MAX_SPEC_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
