import { createPublicKey, createSecretKey } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type JwtModuleOptions, JwtService } from '@nestjs/jwt';
import { MAX_TOKEN_LENGTH, type RealtimeConfig } from '../config/realtime-options.js';
import { REALTIME_CONFIG } from '../realtime.constants.js';
import { AuthFailure, type Identity } from './identity.js';
import { REVOCATION_STORE, type RevocationStore } from './revocation-store.js';

const NO_ROLES: readonly string[] = Object.freeze([]);

/** `value` itself (frozen) when it is an array of strings: it belongs to the freshly decoded claims. */
function stringArray(value: unknown): readonly string[] | undefined {
  if (value === undefined) return NO_ROLES;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return undefined;
  return Object.freeze(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= 256 ? value : undefined;
}

/**
 * JwtModule options from the resolved config: the key as a KeyObject built once (a string
 * secret makes jsonwebtoken try to parse it as a PEM key on every verification, which
 * costs ~30x the HMAC itself), and the pinned algorithm, issuer, audience and tolerance.
 */
export function jwtModuleOptions(config: RealtimeConfig): JwtModuleOptions {
  const { key, algorithm, issuer, audience, clockToleranceSec } = config.jwt;
  const verifyOptions = {
    algorithms: [algorithm],
    clockTolerance: clockToleranceSec,
    ...(issuer !== undefined ? { issuer } : {}),
    ...(audience !== undefined ? { audience } : {}),
  };
  return algorithm === 'HS256'
    ? { secret: createSecretKey(Buffer.from(key, 'utf8')), verifyOptions }
    : { publicKey: createPublicKey(key), verifyOptions };
}

/**
 * Verifies a JWT with the pinned algorithm, issuer and audience, requires `sub` and `exp`,
 * checks the revocation store and turns the claims into an `Identity`.
 */
@Injectable()
export class TokenVerifier {
  constructor(
    private readonly jwt: JwtService,
    @Inject(REVOCATION_STORE) private readonly revocations: RevocationStore,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {}

  async verify(token: string): Promise<Identity> {
    if (token.length === 0) throw new AuthFailure('missing');
    if (token.length > MAX_TOKEN_LENGTH) throw new AuthFailure('too_long');
    let claims: Record<string, unknown>;
    try {
      // Key, algorithm, issuer, audience and clock tolerance come from jwtModuleOptions.
      claims = await this.jwt.verifyAsync<Record<string, unknown>>(token);
    } catch (err) {
      const name = err instanceof Error ? err.name : '';
      if (name === 'TokenExpiredError') throw new AuthFailure('expired');
      if (name === 'NotBeforeError') throw new AuthFailure('not_before');
      const message = err instanceof Error ? err.message : '';
      throw new AuthFailure(/signature|algorithm/.test(message) ? 'bad_signature' : 'malformed');
    }
    const identity = this.toIdentity(claims);
    // No token may outlive the revocations kept for it (docs/protocol.md §11, finding R8).
    if (identity.expiresAt - Date.now() > this.config.jwtMaxTokenLifetimeMs) throw new AuthFailure('lifetime_too_long');
    if (await this.revocations.isRevoked(identity)) throw new AuthFailure('revoked');
    return identity;
  }

  private toIdentity(claims: Record<string, unknown>): Identity {
    const userId = nonEmptyString(claims.sub);
    const exp = claims.exp;
    const roles = stringArray(claims.roles);
    const jti = claims.jti === undefined ? undefined : nonEmptyString(claims.jti);
    const iat = claims.iat;
    if (
      userId === undefined ||
      typeof exp !== 'number' ||
      !Number.isFinite(exp) ||
      roles === undefined ||
      (claims.jti !== undefined && jti === undefined) ||
      (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat)))
    ) {
      throw new AuthFailure('bad_claims');
    }
    const username = nonEmptyString(claims.name) ?? nonEmptyString(claims.preferred_username) ?? userId;
    return Object.freeze({
      userId,
      username,
      roles,
      // The decoded payload is ours alone: frozen in place, not copied (one object less per connection).
      claims: Object.freeze(claims),
      jti,
      issuedAt: iat as number | undefined,
      expiresAt: exp * 1000,
    });
  }
}
