/** Who a connection is, taken only from a verified token (docs/protocol.md §5). */
export interface Identity {
  readonly userId: string;
  readonly username: string;
  readonly roles: readonly string[];
  /** The verified claims, for authorization providers (e.g. the `projects` claim). */
  readonly claims: Readonly<Record<string, unknown>>;
  readonly jti?: string;
  /** `iat` in epoch seconds, when the token carries one. */
  readonly issuedAt?: number;
  /** `exp` in epoch milliseconds. */
  readonly expiresAt: number;
}

/** Internal reason an authentication failed: for logs and metrics, never for clients (finding 19). */
export type AuthFailureReason =
  | 'missing'
  | 'too_long'
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'not_before'
  | 'bad_claims'
  | 'lifetime_too_long'
  | 'duplicate_cookie'
  | 'revoked';

export class AuthFailure extends Error {
  override name = 'AuthFailure';

  constructor(readonly reason: AuthFailureReason) {
    super('Unauthorized');
  }
}
