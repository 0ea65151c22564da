import { compileTypeGlob } from '../catalog/type-glob.js';

/** A bundle's scope names (`x-specstream-scopes`); the native ones are `events:read`, `events:write`, `admin`, `:`. */
export interface ScopeGrammar {
  read: string;
  write: string;
  admin: string;
  separator: string;
}

/** The native bundle's scope names. */
export const NATIVE_SCOPE_GRAMMAR: ScopeGrammar = { read: 'events:read', write: 'events:write', admin: 'admin', separator: ':' };

/** How the caller presented its credentials. */
export type CredentialSource = 'bearer' | 'basic' | 'query' | 'cookie' | 'anonymous';

/** Publish token bucket of a caller (src/auth/rate-limiter.ts); `ratePerS` 0 means unlimited. */
export interface PublishRate {
  /** Tokens added per second (requests per second sustained). */
  ratePerS: number;
  /** Bucket size: requests allowed at once after a quiet period. */
  burst: number;
}

/**
 * What a principal was built from, so that a key reload can tell whether an open stream's
 * credentials still hold (src/auth/authenticator.ts `stillValid`). A JWT keeps its compact form
 * (in a private field of the authenticator's record, never logged) to be verified again.
 */
export type CredentialRecord =
  | { kind: 'key'; id: string; fingerprint: string }
  | { kind: 'jwt'; token: () => string }
  | { kind: 'anonymous'; scopes: string };

/** The extras of a principal besides its id, scopes and source. */
export interface PrincipalOptions {
  /** When the credential stops being valid (ms since the epoch): a JWT's `exp`. Streams end then. */
  expiresAt?: number;
  /** The only `Origin` a browser may present this credential from (a minted token's `origin` claim). */
  origin?: string;
  /** Publish limit of this caller (a key's own `publish_rate_per_s` / `publish_burst`); what is undefined takes the server's defaults. */
  rate?: Partial<PublishRate>;
  credential?: CredentialRecord;
}

/** Who is calling and what they may do; built once per key. */
export class Principal {
  private readonly readMatchers: ((type: string) => boolean)[] = [];
  private readonly writeMatchers: ((type: string) => boolean)[] = [];
  readonly isAdmin: boolean;

  constructor(
    /** The API key id (`anonymous` for anonymous access). */
    readonly keyId: string,
    readonly scopes: readonly string[],
    readonly source: CredentialSource,
    /** The bundle's scope names: `read`, `read<separator><type glob>`, `write…`, `admin`. */
    readonly grammar: ScopeGrammar = NATIVE_SCOPE_GRAMMAR,
    readonly options: PrincipalOptions = {},
  ) {
    // `admin` means everything in every bundle, whatever the bundle calls its admin scope.
    this.isAdmin = scopes.includes('admin') || scopes.includes(grammar.admin);
    for (const scope of scopes) {
      for (const [name, matchers] of [
        [grammar.read, this.readMatchers],
        [grammar.write, this.writeMatchers],
      ] as const) {
        if (scope === name) matchers.push(() => true);
        else if (scope.startsWith(name + grammar.separator)) matchers.push(compileTypeGlob(scope.slice(name.length + grammar.separator.length)));
      }
    }
  }

  /** The same key seen through another credential source. */
  via(source: CredentialSource): Principal {
    return source === this.source ? this : new Principal(this.keyId, this.scopes, source, this.grammar, this.options);
  }

  /** When the credential expires (ms since the epoch), or undefined for keys, which do not. */
  get expiresAt(): number | undefined {
    return this.options.expiresAt;
  }

  /** True for a caller whose scopes name `scope` literally, or an admin (e.g. `tokens:issue`). */
  hasScope(scope: string): boolean {
    return this.isAdmin || this.scopes.includes(scope);
  }

  /** True when some scope lets this caller read events of `type`. */
  canRead(type: string): boolean {
    return this.isAdmin || this.readMatchers.some((match) => match(type));
  }

  /** True when some scope lets this caller publish events of `type`. */
  canWrite(type: string): boolean {
    return this.isAdmin || this.writeMatchers.some((match) => match(type));
  }

  /** True when the caller may read at least one type. */
  get readsAnything(): boolean {
    return this.isAdmin || this.readMatchers.length > 0;
  }

  /** True when the caller may publish at least one type. */
  get writesAnything(): boolean {
    return this.isAdmin || this.writeMatchers.length > 0;
  }
}
