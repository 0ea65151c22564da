/**
 * Which bundle the SDK talks to: a profile given as JSON (anywhere), a bundle folder (Node only), the
 * server's own documents (`GET /specs/openapi.yaml` and `/specs/asyncapi.yaml`, Node only), or by
 * default the native bundle (a generated constant, so a browser needs no bundle code).
 */
import { NATIVE_PROFILE } from '../generated/wire-profile.js';
import { errorFromResponse, ProfileError } from './errors.js';
import type { ClientProfile } from './profile.js';

/** How to choose the bundle; at most one of the three. Default: the native bundle (`specs/`). */
export interface BundleOptions {
  /**
   * The bundle's profile as plain JSON (`clientProfile(bundle)` or `wireProfile(bundle)`), or a
   * promise of one (e.g. `loadProfile({ url, specs })`, shared by several calls). Works in browsers.
   */
  profile?: ClientProfile | PromiseLike<ClientProfile>;
  /** A bundle folder (`examples/audit-log`), read with the bundle loader. Node only. */
  specs?: string;
  /**
   * Read the bundle from the server: `GET <url>/specs/openapi.yaml` and `/specs/asyncapi.yaml`
   * (every example bundle serves them there), once per subscription or client. A string is the path
   * the two files are under instead of `/specs/`. Each request has a deadline of 30 s and reads at
   * most 16 MiB. Node only (the bundle parser uses Node modules); in a browser pass `profile`.
   */
  specsFromServer?: true | string;
}

/** Most bytes of one spec document read from a server (`specsFromServer`): 16 MiB. */
export const MAX_SPEC_BYTES = 16 * 1024 * 1024;

/** Deadline of each spec document request (`specsFromServer`): 30 000 ms. */
export const SPEC_TIMEOUT_MS = 30_000;

type NodeProfiles = typeof import('./bundle-profile.js');
let nodeProfiles: Promise<NodeProfiles> | undefined;

/** The Node-only loaders, imported on first use (a variable specifier, so browser bundlers leave it out). */
function loaders(): Promise<NodeProfiles> {
  const specifier = './bundle-profile.js';
  nodeProfiles ??= (import(/* @vite-ignore */ specifier) as Promise<NodeProfiles>).catch((error: unknown) => {
    nodeProfiles = undefined;
    throw new ProfileError('NODE_ONLY', 'reading a bundle (`specs`, `specsFromServer`) needs Node; in a browser pass `profile`', { cause: error });
  });
  return nodeProfiles;
}

/**
 * The profile `options` choose. Rejects with a TypeError when more than one of `profile`, `specs`
 * and `specsFromServer` is given, with ProfileError `INVALID_BUNDLE` when the bundle is refused, and
 * with the typed HTTP errors (or a network TypeError) when the server's documents cannot be fetched.
 */
export async function loadProfile(options: BundleOptions & { url?: string; fetch?: typeof fetch }): Promise<ClientProfile> {
  checkBundleOptions(options);
  if (options.profile !== undefined) return options.profile;
  if (options.specs !== undefined) return (await loaders()).loadClientProfile(options.specs);
  if (options.specsFromServer !== undefined) {
    if (typeof options.url !== 'string') throw new TypeError('`specsFromServer` needs `url`');
    const base = typeof options.specsFromServer === 'string' ? options.specsFromServer.replace(/\/?$/, '/') : '/specs/';
    const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    const read = async (file: string) => {
      const url = new URL(`${base}${file}`, options.url);
      const response = await fetchImpl(url, { headers: { Accept: 'application/yaml, text/yaml, */*' }, signal: AbortSignal.timeout(SPEC_TIMEOUT_MS) });
      if (response.status === 404) {
        await response.body?.cancel().catch(() => {});
        throw new ProfileError('NO_OPERATION', `GET ${url.href} answered 404: the server does not serve its specs there (pass \`specs\` or \`profile\`)`);
      }
      if (!response.ok) throw await errorFromResponse(response);
      return readText(response, url.href);
    };
    const [openapi, asyncapi] = await Promise.all([read('openapi.yaml'), read('asyncapi.yaml')]);
    return (await loaders()).parseClientProfile(new URL(options.url).host, { openapi, asyncapi });
  }
  return NATIVE_PROFILE;
}

/** The body as UTF-8 text, at most {@link MAX_SPEC_BYTES}; more is a ProfileError `INVALID_BUNDLE`. */
async function readText(response: Response, where: string): Promise<string> {
  const tooLarge = () => new ProfileError('INVALID_BUNDLE', `${where}: more than ${MAX_SPEC_BYTES} bytes`);
  if (Number(response.headers.get('content-length') ?? 0) > MAX_SPEC_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > MAX_SPEC_BYTES) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** Throws a TypeError when `options` choose more than one of `profile`, `specs` and `specsFromServer`. */
export function checkBundleOptions(options: BundleOptions): void {
  const chosen = [options.profile !== undefined, options.specs !== undefined, options.specsFromServer !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new TypeError('give at most one of `profile`, `specs` and `specsFromServer`');
}

/** True when `options` choose a bundle other than the default. */
export function choosesBundle(options: BundleOptions): boolean {
  return options.profile !== undefined || options.specs !== undefined || options.specsFromServer !== undefined;
}
