import { compileTypeGlob } from '../catalog/type-glob.js';

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
  ) {
    this.isAdmin = scopes.includes('admin');
    for (const scope of scopes) {
      const [resource, action, ...rest] = scope.split(':');
      if (resource !== 'events') continue;
      const glob = rest.length > 0 ? rest.join(':') : '*';
      if (action === 'read') this.readMatchers.push(compileTypeGlob(glob));
      if (action === 'write') this.writeMatchers.push(compileTypeGlob(glob));
    }
  }

  /** The same key seen through another credential source. */
  via(source: CredentialSource): Principal {
    return source === this.source ? this : new Principal(this.keyId, this.scopes, source);
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
