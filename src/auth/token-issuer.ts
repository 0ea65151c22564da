/**
 * Mints the short-lived browser tokens of `POST /v1/tokens`: HS256 JWTs (RFC 7519) signed with
 * `jwt_secret` when it is set (every node sharing the secret accepts them), otherwise with a random
 * key of this process (its `kid` names it; the tokens are valid on this process only, until it
 * restarts). Claims: `iss` (`jwt_issuer`, else `specstream`), `aud` (`jwt_audience`, when set),
 * `sub`, `scope` (space-separated, RFC 8693 section 4.2), `iat`, `exp`, `jti`, and `origin` when
 * the token is bound to a browser origin.
 */
import { randomBytes } from 'node:crypto';
import { jose } from './jose.js';
import type { SelfKey } from './jwt-verifier.js';

/** What `mint` needs. */
export interface MintRequest {
  subject: string;
  scopes: readonly string[];
  /** Lifetime in seconds. */
  ttlS: number;
  /** The only browser origin the token may be used from (`https://dashboard.example.com`). */
  origin?: string;
}

/** A minted token. */
export interface MintedToken {
  token: string;
  /** `exp` in ms since the epoch. */
  expiresAt: number;
}

export class TokenIssuer {
  readonly #key: Uint8Array;
  readonly #kid: string | undefined;
  readonly #issuer: string;
  readonly #audience: string | undefined;
  /** The `jwt_secret` this issuer signs with (empty: its own random key), to keep that key across reloads. */
  readonly secret: string;

  /**
   * @param secret `jwt_secret`, or empty for a random per-process key
   * @param issuer the `iss` claim (`jwt_issuer`'s first value), default `specstream`
   * @param audience the `aud` claim (`jwt_audience`'s first value), if any
   * @param previous an issuer whose random key to keep (a reload that leaves `jwt_secret` empty)
   */
  constructor(secret: string, issuer: string | undefined, audience: string | undefined, previous?: TokenIssuer) {
    this.secret = secret;
    if (secret !== '') {
      this.#key = new TextEncoder().encode(secret);
      this.#kid = undefined;
    } else if (previous !== undefined && previous.secret === '') {
      this.#key = previous.#key;
      this.#kid = previous.#kid;
    } else {
      this.#key = randomBytes(32);
      this.#kid = `specstream-${randomBytes(6).toString('hex')}`;
    }
    this.#issuer = issuer ?? 'specstream';
    this.#audience = audience;
  }

  /** The random key, for the verifier to accept this issuer's tokens; undefined when signing with `jwt_secret`. */
  get selfKey(): SelfKey | undefined {
    return this.#kid === undefined ? undefined : { kid: this.#kid, secret: this.#key };
  }

  /** Signs a token for `request`. */
  async mint(request: MintRequest): Promise<MintedToken> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + request.ttlS;
    let jwt = new (jose().SignJWT)({ scope: request.scopes.join(' '), ...(request.origin !== undefined ? { origin: request.origin } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...(this.#kid !== undefined ? { kid: this.#kid } : {}) })
      .setIssuer(this.#issuer)
      .setSubject(request.subject)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .setJti(randomBytes(12).toString('base64url'));
    if (this.#audience !== undefined) jwt = jwt.setAudience(this.#audience);
    return { token: await jwt.sign(this.#key), expiresAt: exp * 1000 };
  }
}
