/**
 * Emits src/generated/wire-profile.ts: the native bundle's client profile (src/client/profile.ts),
 * what the SDK uses when it is given no bundle. A constant, so the browser build of the SDK needs
 * neither the bundle loader nor the file system to know the native paths, parameters and frames.
 */
import { parseClientProfile } from '../../src/client/bundle-profile.js';
import { generatedHeader } from './header.js';

/** The module text for the native bundle whose documents are `texts`. */
export function emitWireProfile(texts: { openapi: string; asyncapi: string }): string {
  const profile = parseClientProfile('specstream', texts);
  const body = [
    "import type { ClientProfile } from '../client/profile.js';",
    '',
    '/** The native bundle as the SDK talks to it: paths, auth, parameter names, frames, envelope keys. */',
    `export const NATIVE_PROFILE: ClientProfile = ${JSON.stringify(profile, null, 2)};`,
    '',
  ];
  return generatedHeader('specs/openapi.yaml and specs/asyncapi.yaml') + body.join('\n');
}
