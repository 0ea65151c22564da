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
export type CredentialSource = 'bearer' | 'basic' | 'query' | 'anonymous';

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
    return source === this.source ? this : new Principal(this.keyId, this.scopes, source, this.grammar);
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
