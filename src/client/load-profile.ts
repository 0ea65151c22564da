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
   * the two files are under instead of `/specs/`. Node only (the bundle parser uses Node modules);
   * in a browser pass `profile`.
   */
  specsFromServer?: true | string;
}

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
      const response = await fetchImpl(new URL(`${base}${file}`, options.url), { headers: { Accept: 'application/yaml, text/yaml, */*' } });
      if (!response.ok) throw await errorFromResponse(response);
      return response.text();
    };
    const [openapi, asyncapi] = await Promise.all([read('openapi.yaml'), read('asyncapi.yaml')]);
    return (await loaders()).parseClientProfile(new URL(options.url).host, { openapi, asyncapi });
  }
  return NATIVE_PROFILE;
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
