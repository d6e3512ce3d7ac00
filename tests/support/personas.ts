// The database personas the product runs SQL as, for tests that speak SQL as
// one of them: each is a role plus settings local to one transaction, the way
// the actions server (app.*) and Hasura (hasura.user) set them.
import type { Client, Pool } from '../../actions-server/src/db/tx.ts';

/** Hasura's session variables (x-hasura-* keys), as Hasura puts them in hasura.user. */
export type HasuraSession = Record<string, string>;

/** The settings the actions server gives a transaction (app.tenant_id, app.user_id, app.actor). */
export interface AppSettings {
  tenantId?: string;
  userId?: string;
  actor?: string;
}

export type Persona =
  /** The actions server's request role, under row-level security. */
  | ({ kind: 'app' } & AppSettings)
  /** Hasura on the platform source; no session is how it runs GraphQL reads (and anonymous requests). */
  | { kind: 'hasura'; session?: HasuraSession; searchPath?: string[]; app?: AppSettings }
  /** Hasura's admin role (console, admin secret): the platform operators' way into the database. */
  | { kind: 'platformAdmin'; userId?: string; tenantId?: string }
  /** A schema or database tenant's own role (its db_role), which its Hasura source connects as. */
  | { kind: 'tenant'; dbRole: string; tenantId?: string; session?: HasuraSession }
  /** Any other role a test made for itself. */
  | { kind: 'role'; role: string };

/** A session as the actions server hands it to Hasura for a member of a tenant. */
export function hasuraSession(role: string, userId?: string, tenantId?: string): HasuraSession {
  return {
    'x-hasura-role': role,
    ...(userId === undefined ? {} : { 'x-hasura-user-id': userId }),
    ...(tenantId === undefined ? {} : { 'x-hasura-tenant-id': tenantId }),
  };
}

function roleAndSettings(client: Client, persona: Persona): [string, Record<string, string | undefined>] {
  const app = (s: AppSettings = {}) => ({ 'app.tenant_id': s.tenantId, 'app.user_id': s.userId, 'app.actor': s.actor });
  const user = (session?: HasuraSession) => (session ? JSON.stringify(session) : undefined);
  switch (persona.kind) {
    case 'app':
      return ['app', app(persona)];
    case 'hasura':
      return [
        'hasura',
        {
          ...app(persona.app),
          'hasura.user': user(persona.session),
          search_path: persona.searchPath?.map((s) => client.escapeIdentifier(s)).join(', '),
        },
      ];
    case 'platformAdmin':
      return ['hasura', { 'hasura.user': user(hasuraSession('admin', persona.userId, persona.tenantId)) }];
    case 'tenant':
      return [persona.dbRole, { ...app(persona), 'hasura.user': user(persona.session) }];
    case 'role':
      return [persona.role, {}];
  }
}

/** Becomes `persona` for the rest of the client's current transaction. */
export async function enterPersona(client: Client, persona: Persona): Promise<void> {
  const [role, settings] = roleAndSettings(client, persona);
  await client.query(`set local role ${client.escapeIdentifier(role)}`);
  for (const [name, value] of Object.entries(settings)) {
    if (value !== undefined) await client.query('select set_config($1, $2, true)', [name, value]);
  }
}

/** Runs fn in one transaction as `persona`: rolled back unless `commit` (and always when fn fails). */
export async function asPersona<T>(
  pool: Pool,
  persona: Persona,
  fn: (client: Client) => Promise<T>,
  options: { commit?: boolean } = {},
): Promise<T> {
  const client = await pool.connect();
  let committed = false;
  try {
    await client.query('begin');
    await enterPersona(client, persona);
    const result = await fn(client);
    if (options.commit) {
      await client.query('commit');
      committed = true;
    }
    return result;
  } finally {
    if (!committed) await client.query('rollback').catch(() => undefined);
    client.release();
  }
}
