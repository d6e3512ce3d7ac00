// hasura/seeds/default: demo data that applies twice without change, and a
// demo owner who can actually sign in (and reach GraphQL through the webhook).
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';

const SEEDS = fileURLToPath(new URL('../../hasura/seeds/default/', import.meta.url));

const fx = useTestServer();

async function applySeeds(): Promise<void> {
  for (const file of (await readdir(SEEDS)).filter((f) => f.endsWith('.sql')).sort()) {
    await fx.db.pool.query(await readFile(`${SEEDS}${file}`, 'utf8'));
  }
}
const snapshot = async () =>
  (
    await fx.db.pool.query(
      `select t.slug, t.isolation, i.email, m.role, (select count(*)::int from public.tenant_settings s where s.tenant_id = t.id) as settings
         from public.tenants t join public.memberships m on m.tenant_id = t.id join public.identities i on i.id = m.identity_id`,
    )
  ).rows;

it('applies twice to the same result', async () => {
  await applySeeds();
  const once = await snapshot();
  await applySeeds();
  expect(await snapshot()).toEqual(once);
  expect(once).toEqual([{ slug: 'demo', isolation: 'pooled', email: 'demo@example.com', role: 'owner', settings: 1 }]);
  // Its owner is its first member in the pooled tables, once.
  expect(
    (await fx.db.pool.query(`select email from pooled.members m join public.tenants t on t.id = m.tenant_id where t.slug = 'demo'`)).rows,
  ).toEqual([{ email: 'demo@example.com' }]);
});

it('gives a demo owner who signs in on demo.<base domain> and gets a GraphQL session', async () => {
  const login = await request(fx.srv.url, '/api/auth/login', {
    host: 'demo.saas.test',
    body: { email: 'demo@example.com', password: 'demo-password' },
  });
  expect(login.status, login.text).toBe(200);
  const hook = await request(fx.srv.url, '/hasura/auth', {
    body: { headers: { host: 'demo.saas.test', authorization: `Bearer ${login.body.token}` } },
  });
  expect(hook.status).toBe(200);
  expect(hook.body['X-Hasura-Role']).toBe('owner');
});
