// Values that must agree across every process of a deployment are recorded in
// the database by the first process and checked by each one after it.
import type { Env } from '../core/config.ts';
import type { Pool } from './tx.ts';

/** A process configured differently from the deployment it joins: it must not run (exit 2). */
export class DeploymentMismatchError extends Error {
  override name = 'DeploymentMismatchError';
}

/**
 * Records the role prefix on first use and refuses a different one. Returns the
 * problems a process can run with but must report (boot log, readiness): database
 * servers named by tenants that this process has no TENANT_DATABASE_URL_<NAME> for.
 */
export async function checkDeploymentSettings(
  pool: Pool,
  env: Pick<Env, 'TENANT_ROLE_PREFIX' | 'TENANT_DATABASE_SERVERS'>,
): Promise<string[]> {
  const { rows } = await pool.query<{ value: string }>(
    `with ins as (
       insert into public.deployment_settings (key, value) values ('tenant_role_prefix', $1)
       on conflict (key) do nothing returning value)
     select value from ins union all select value from public.deployment_settings where key = 'tenant_role_prefix'`,
    [env.TENANT_ROLE_PREFIX],
  );
  const recorded = rows[0]?.value ?? env.TENANT_ROLE_PREFIX;
  if (recorded !== env.TENANT_ROLE_PREFIX) {
    throw new DeploymentMismatchError(
      `TENANT_ROLE_PREFIX is '${env.TENANT_ROLE_PREFIX}' here but this deployment's tenants use '${recorded}': ` +
        'every server, worker and CLI of one deployment needs the same value',
    );
  }
  const servers = await pool.query<{ name: string; tenants: string }>(
    `select database_url_env as name, count(*)::text as tenants from public.tenants
      where isolation = 'database' and database_url_env is not null group by 1 order by 1`,
  );
  return servers.rows
    .filter((s) => !(s.name in env.TENANT_DATABASE_SERVERS))
    .map(
      (s) => `${s.name} is not set in this process, but ${s.tenants} database-tier tenant(s) live on that server (they answer 503 here)`,
    );
}
