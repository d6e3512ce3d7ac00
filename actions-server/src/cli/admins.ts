// `admins create|list`: platform administrators (suspend, verify domains, move
// tenants, set plans). The first one can only be made here.
import type { Command } from 'commander';
import { hashPassword } from '../auth/passwords.ts';
import { asSystem } from '../db/tx.ts';
import { emailSchema, passwordSchema } from '../tenants/schemas.ts';
import { UsageError, withRuntime, cliActor } from './runtime.ts';
import { readSecret } from './secrets.ts';

export function register(program: Command): void {
  const admins = program.command('admins').description('platform administrators');
  admins
    .command('create')
    .description('make a platform administrator (a new identity, or promote an existing one); password from ADMIN_PASSWORD or a prompt')
    .argument('<email>')
    .option('--name <name>', 'display name of a new identity')
    .action((rawEmail: string, opts: { name?: string }) =>
      withRuntime(async ({ db }) => {
        const email = emailSchema.safeParse(rawEmail);
        if (!email.success) throw new UsageError(`email: ${email.error.issues[0]?.message}`);
        const existing = (await db.pool.query<{ id: string }>('select id from public.identities where email = $1', [email.data])).rows[0];
        let hash: string | undefined;
        if (!existing) {
          const password = passwordSchema.safeParse(await readSecret('ADMIN_PASSWORD', 'Password: '));
          if (!password.success) throw new UsageError(`password: ${password.error.issues[0]?.message}`);
          hash = await hashPassword(password.data);
        }
        await asSystem(
          db.pool,
          (client) =>
            existing
              ? client.query('update public.identities set is_platform_admin = true where id = $1', [existing.id])
              : client.query('insert into public.identities (email, name, password_hash, is_platform_admin) values ($1, $2, $3, true)', [
                  email.data,
                  opts.name ?? email.data,
                  hash,
                ]),
          cliActor,
        );
        console.log(`${email.data} is a platform administrator${existing ? ' (existing identity promoted)' : ''}`);
      }),
    );
  admins
    .command('list')
    .description('list platform administrators')
    .action(() =>
      withRuntime(async ({ db }) => {
        const { rows } = await db.pool.query(
          'select email, name, created_at from public.identities where is_platform_admin order by email',
        );
        console.table(rows);
      }),
    );
}
