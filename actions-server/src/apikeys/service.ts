// Tenant API keys: created by an owner or admin, shown once, stored as the
// sha256 of the whole key with its prefix in the clear (listings show the
// prefix), a role (member or tenant_admin), an optional expiry; revoked keys
// are refused by the next request (apikeys/verify.ts reads the table on every
// call). Writes run as `app` under the tenant's RLS and are audited.
import { randomBytes } from 'node:crypto';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asApp } from '../db/tx.ts';
import type { MemberActor } from '../core/actor.ts';
import { roleRank } from '../auth/tokens.ts';
import { hashApiKey, type ApiKeyRole } from './verify.ts';
import { accessChanged } from '../auth/access.ts';
import type { ApiKeyIdInput, CreateApiKeyInput } from './schemas.ts';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  role: 'member' | 'tenant_admin';
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface KeyRow {
  id: string;
  name: string;
  prefix: string;
  role: ApiKeyRole;
  created_by: string | null;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, prefix, role, created_by, created_at, expires_at, last_used_at, revoked_at';

const toView = (r: KeyRow): ApiKeyView => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  role: r.role === 'admin' ? 'tenant_admin' : 'member',
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  expiresAt: r.expires_at?.toISOString() ?? null,
  lastUsedAt: r.last_used_at?.toISOString() ?? null,
  revokedAt: r.revoked_at?.toISOString() ?? null,
});

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function newPrefix(): string {
  const bytes = randomBytes(12);
  return `sk_${Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('')}`;
}

function assertManager(actor: MemberActor): void {
  if (roleRank(actor.role) < roleRank('admin')) throw new AppError('FORBIDDEN', 'Only owners and admins manage API keys');
}

export async function createApiKey(
  ctx: Pick<AppContext, 'pool'>,
  actor: MemberActor,
  input: CreateApiKeyInput,
): Promise<{ apiKey: ApiKeyView; key: string }> {
  assertManager(actor);
  const prefix = newPrefix();
  const key = `${prefix}.${randomBytes(32).toString('base64url')}`;
  const row = await asApp(
    ctx.pool,
    actor,
    async (client) =>
      (
        await client.query<KeyRow>(
          `insert into public.tenant_api_keys (tenant_id, name, prefix, key_hash, role, created_by, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning ${COLUMNS}`,
          [
            actor.tenantId,
            input.name,
            prefix,
            hashApiKey(key),
            input.role === 'tenant_admin' ? 'admin' : 'member',
            actor.userId,
            input.expiresAt ?? null,
          ],
        )
      ).rows[0]!,
  );
  return { apiKey: toView(row), key };
}

export async function listApiKeys(ctx: Pick<AppContext, 'pool'>, actor: MemberActor): Promise<{ apiKeys: ApiKeyView[] }> {
  assertManager(actor);
  const rows = await asApp(
    ctx.pool,
    actor,
    async (client) =>
      (
        await client.query<KeyRow>(`select ${COLUMNS} from public.tenant_api_keys where tenant_id = $1 order by created_at desc, id`, [
          actor.tenantId,
        ])
      ).rows,
  );
  return { apiKeys: rows.map(toView) };
}

/** Revokes a key (idempotent); the next request with it is refused. */
export async function revokeApiKey(
  ctx: Pick<AppContext, 'pool'>,
  actor: MemberActor,
  input: ApiKeyIdInput,
): Promise<{ apiKey: ApiKeyView }> {
  assertManager(actor);
  const row = await asApp(ctx.pool, actor, async (client) => {
    const updated = await client.query<KeyRow>(
      `update public.tenant_api_keys set revoked_at = now(), revoked_by = $3
        where tenant_id = $1 and id = $2 and revoked_at is null returning ${COLUMNS}`,
      [actor.tenantId, input.apiKeyId, actor.userId],
    );
    if (updated.rows[0]) return updated.rows[0];
    const existing = await client.query<KeyRow>(`select ${COLUMNS} from public.tenant_api_keys where tenant_id = $1 and id = $2`, [
      actor.tenantId,
      input.apiKeyId,
    ]);
    if (!existing.rows[0]) throw new AppError('NOT_FOUND', 'API key not found');
    return existing.rows[0];
  });
  accessChanged({ keys: [row.prefix] });
  return { apiKey: toView(row) };
}
