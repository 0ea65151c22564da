/**
 * Key rotation without a restart (`SIGHUP`, src/cli/main.ts): re-reads the configuration, builds
 * new keys and JWT settings, swaps them in at once (new keys work from the next request), then
 * ends the open streams whose credentials no longer hold (a removed key, a changed secret, scopes
 * or `query_token`; a token that no longer verifies) with the typed notice `CREDENTIALS_REVOKED`.
 * A configuration that fails to load keeps the previous one, and says why in the log.
 */
import type { Config } from '../config/load-config.js';
import { redactText } from '../observability/redact.js';
import type { Logger } from '../observability/logger.js';
import type { StreamHub } from '../stream/stream-hub.js';
import { buildAuthState, type Authenticator } from './authenticator.js';
import type { KeySpec } from './key-spec.js';
import type { Principal, ScopeGrammar } from './principal.js';

/** What a reload needs. */
export interface ReloadDeps {
  auth: Authenticator;
  hub: Pick<StreamHub, 'principals' | 'endStreams'>;
  grammar: ScopeGrammar;
  logger: Logger;
  /** The development key generated at start, kept while the configuration still names no key. */
  developmentKey?: KeySpec;
}

/** The outcome of one reload. */
export type ReloadResult = { ok: true; keys: number; revokedStreams: number } | { ok: false; error: string };

/**
 * Applies the configuration `load` returns. Never throws: a failure (in `load` or in the new
 * settings) is logged at error level and returned, and the previous configuration stays.
 */
export async function reloadAuth(deps: ReloadDeps, load: () => Config): Promise<ReloadResult> {
  const { auth, hub, logger } = deps;
  let keys: number;
  try {
    const config = load();
    const specs = config.keys.length === 0 && !config.allow_anonymous && deps.developmentKey ? [deps.developmentKey] : config.keys;
    auth.replace(buildAuthState(config, deps.grammar, specs, auth.state));
    keys = specs.length;
  } catch (error) {
    // The first line only: a YAML error goes on to quote the file, which holds secrets.
    const text = error instanceof Error ? error.message : String(error);
    const message = redactText(text.split('\n')[0] ?? '');
    logger.error(`key reload failed; keeping the previous keys and JWT settings: ${message}`);
    return { ok: false, error: message };
  }
  // Each principal is checked once, however many streams it has.
  const revoked = new Set<Principal>();
  for (const principal of hub.principals()) {
    if (!(await auth.stillValid(principal))) revoked.add(principal);
  }
  const revokedStreams = revoked.size === 0 ? 0 : hub.endStreams((principal) => revoked.has(principal), 'CREDENTIALS_REVOKED', 'The credentials of this stream were revoked or changed: connect again with valid ones');
  logger.info({ keys, revokedStreams }, 'keys and JWT settings reloaded');
  return { ok: true, keys, revokedStreams };
}
