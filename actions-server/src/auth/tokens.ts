// Login tokens: one identity, one tenant, one role, carrying Hasura's JWT claims
// so the same token works with the auth webhook and with Hasura's JWT mode.
// Keys are KeyObjects made once: with a string secret jsonwebtoken tries
// createPublicKey on every verify (about 290 µs against 9 µs).
import { createPrivateKey, createPublicKey, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import type { Env } from '../core/config.ts';

export const CLAIMS_NAMESPACE = 'https://hasura.io/jwt/claims';
export const TENANT_ROLES = ['owner', 'admin', 'member'] as const;
export type TenantRole = (typeof TENANT_ROLES)[number];
export const PLATFORM_ADMIN_ROLE = 'platform_admin';
export type TokenRole = TenantRole | typeof PLATFORM_ADMIN_ROLE;

/** Roles a tenant role may act as (it may always lower itself). */
export function rolesAtOrBelow(role: TenantRole): TenantRole[] {
  return TENANT_ROLES.slice(TENANT_ROLES.indexOf(role));
}

// In Hasura, `admin` is the built-in superuser role (no permission checks), so a
// tenant's admin is `tenant_admin` in every claim and session Hasura sees.
const HASURA_NAMES = { owner: 'owner', admin: 'tenant_admin', member: 'member' } as const satisfies Record<TenantRole, string>;
export type HasuraTenantRole = (typeof HASURA_NAMES)[TenantRole];

export function hasuraRoleName(role: TokenRole): HasuraTenantRole | typeof PLATFORM_ADMIN_ROLE {
  return role === PLATFORM_ADMIN_ROLE ? PLATFORM_ADMIN_ROLE : HASURA_NAMES[role];
}

/** The tenant role a Hasura role name stands for; undefined for any other name. */
export function tenantRoleOf(hasuraRole: string): TenantRole | undefined {
  return TENANT_ROLES.find((r) => HASURA_NAMES[r] === hasuraRole);
}

export function roleRank(role: TenantRole): number {
  return TENANT_ROLES.length - TENANT_ROLES.indexOf(role);
}

const hasuraClaimsSchema = z.object({
  'x-hasura-default-role': z.string(),
  'x-hasura-allowed-roles': z.array(z.string()).min(1),
  'x-hasura-user-id': z.uuid(),
  'x-hasura-tenant-id': z.uuid().optional(),
  'x-hasura-session-id': z.uuid().optional(),
});

const payloadSchema = z.object({
  sub: z.uuid(),
  sid: z.uuid().optional(),
  exp: z.number().optional(),
  [CLAIMS_NAMESPACE]: hasuraClaimsSchema,
});

export interface VerifiedToken {
  userId: string;
  tenantId: string | null;
  role: TokenRole;
  /** Roles the token allows, in this server's names (owner, admin, member, platform_admin). */
  allowedRoles: readonly TokenRole[];
  /** The session the token belongs to (every token the server issues has one): revoking it ends the token. */
  sessionId?: string | undefined;
  /** Set when the caller is a tenant API key (userId is then the key's id, not a person). */
  apiKeyId?: string | undefined;
  /** When the token expires (seconds since the epoch). */
  expiresAt?: number | undefined;
}

export interface TokenService {
  sign(input: { userId: string; tenantId: string | null; role: TokenRole; sessionId?: string }): { token: string; expiresIn: number };
  verify(token: string): VerifiedToken;
}

export class InvalidTokenError extends Error {}

/** Tokens whose signature and claims were checked, by their exact text. */
const VERIFIED_TOKENS_CACHED = 10_000;

export function createTokenService(env: Env, onGeneratedSecret?: () => void): TokenService {
  let signKey: KeyObject;
  let verifyKey: KeyObject;
  if (env.JWT_ALGORITHM === 'RS256') {
    signKey = createPrivateKey(env.JWT_PRIVATE_KEY ?? '');
    verifyKey = createPublicKey(env.JWT_PUBLIC_KEY ?? '');
  } else {
    let secret = env.JWT_SECRET;
    if (!secret) {
      // Development only (config refuses this in production): tokens die with the process.
      secret = randomBytes(48).toString('base64url');
      onGeneratedSecret?.();
    }
    signKey = verifyKey = createSecretKey(Buffer.from(secret, 'utf8'));
  }
  const algorithm = env.JWT_ALGORITHM;
  // Built once: jsonwebtoken copies its options and never changes them.
  const verifyOptions = { algorithms: [algorithm], issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE };
  // A caller sends the same token on every request: its signature and claims are
  // checked once, and only its expiry again (as jsonwebtoken checks it). Only tokens
  // that verified are kept, so made-up tokens cannot fill the cache; revocation is
  // never a property of the token (sessions, memberships and keys are checked live).
  const verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_TOKENS_CACHED });

  return {
    sign({ userId, tenantId, role, sessionId }) {
      const allowed = role === PLATFORM_ADMIN_ROLE ? [PLATFORM_ADMIN_ROLE] : rolesAtOrBelow(role).map(hasuraRoleName);
      const claims: Record<string, unknown> = {
        'x-hasura-default-role': hasuraRoleName(role),
        'x-hasura-allowed-roles': allowed,
        'x-hasura-user-id': userId,
      };
      if (tenantId) claims['x-hasura-tenant-id'] = tenantId;
      // In Hasura JWT mode the session id reaches actions as a session variable.
      if (sessionId) claims['x-hasura-session-id'] = sessionId;
      const token = jwt.sign({ [CLAIMS_NAMESPACE]: claims, ...(sessionId ? { sid: sessionId } : {}) }, signKey, {
        algorithm,
        subject: userId,
        issuer: env.JWT_ISSUER,
        audience: env.JWT_AUDIENCE,
        expiresIn: env.JWT_EXPIRES_IN_SECONDS,
      });
      return { token, expiresIn: env.JWT_EXPIRES_IN_SECONDS };
    },
    verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.expiresAt === undefined || known.expiresAt > Math.floor(Date.now() / 1000)) return known;
        verified.delete(token);
      }
      let decoded: unknown;
      try {
        decoded = jwt.verify(token, verifyKey, verifyOptions);
      } catch (err) {
        throw new InvalidTokenError((err as Error).message);
      }
      const parsed = payloadSchema.safeParse(decoded);
      if (!parsed.success) throw new InvalidTokenError('token claims are malformed');
      const claims = parsed.data[CLAIMS_NAMESPACE];
      const claimed = claims['x-hasura-default-role'];
      const role: TokenRole | undefined = claimed === PLATFORM_ADMIN_ROLE ? PLATFORM_ADMIN_ROLE : tenantRoleOf(claimed);
      if (!role) throw new InvalidTokenError('token role is unknown');
      if (claims['x-hasura-user-id'] !== parsed.data.sub) throw new InvalidTokenError('token subject mismatch');
      const tenantId = claims['x-hasura-tenant-id'] ?? null;
      if (role !== PLATFORM_ADMIN_ROLE && !tenantId) throw new InvalidTokenError('tenant token without tenant');
      const allowedRoles = claims['x-hasura-allowed-roles'].flatMap((r): TokenRole[] => {
        const known = r === PLATFORM_ADMIN_ROLE ? PLATFORM_ADMIN_ROLE : tenantRoleOf(r);
        return known ? [known] : [];
      });
      const result: VerifiedToken = Object.freeze({
        userId: parsed.data.sub,
        tenantId,
        role,
        allowedRoles: Object.freeze(allowedRoles),
        sessionId: parsed.data.sid,
        expiresAt: parsed.data.exp,
      });
      verified.set(token, result);
      return result;
    },
  };
}

const verifiedPerRequest = new WeakMap<object, VerifiedToken | InvalidTokenError>();

/**
 * TokenService.verify once per request: the rate-limit guard and
 * authentication both need the token, and one verification serves them
 * (throws InvalidTokenError as verify does).
 */
export function verifyRequestToken(request: object, tokens: TokenService, token: string): VerifiedToken {
  let verified = verifiedPerRequest.get(request);
  if (verified === undefined) {
    try {
      verified = tokens.verify(token);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      verified = err;
    }
    verifiedPerRequest.set(request, verified);
  }
  if (verified instanceof InvalidTokenError) throw verified;
  return verified;
}
