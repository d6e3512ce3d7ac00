// Restoring an export archive as a new tenant: the archive is unpacked and
// checked whole (every file's size and SHA-256 against the manifest) before
// anything is written, then restored (restore.ts) under a new slug into any
// tier. The archive's audit trail stays in the archive: a chain is bound to
// its tenant's id, so the new tenant's chain starts afresh with an entry
// naming the source tenant, its chain head and the archive's digest.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import type { Isolation, TenantRow } from '../tenants/records.ts';
import { openArchive, Tally, type Manifest } from './archive.ts';
import { restoreTenant, type RestoreDeps, type RestoreSpec } from './restore.ts';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { TableSum } from '../tenants/move/records.ts';

const person = z.object({ id: z.uuid(), email: z.string().min(3).max(320), name: z.string().nullable() });
const membership = z.object({ identity_id: z.uuid(), role: z.enum(['owner', 'admin', 'member']) });
const row = z.record(z.string(), z.unknown());

async function ndjson<T>(path: string, schema: z.ZodType<T>, what: string): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  const out: T[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new AppError('VALIDATION_FAILED', `${what}: line ${i + 1} is not JSON`);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new AppError(
        'VALIDATION_FAILED',
        `${what}: line ${i + 1}: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`,
      );
    out.push(parsed.data);
  }
  return out;
}

async function sha256Of(file: string): Promise<string> {
  const tally = new Tally();
  await pipeline(createReadStream(file), tally, new Writable({ write: (_c, _e, cb) => cb() }));
  return tally.digest();
}

export interface ImportOptions {
  slug: string;
  to?: Isolation | undefined;
}

export async function importTenant(
  deps: RestoreDeps,
  file: string,
  opts: ImportOptions,
): Promise<{ tenant: TenantRow; manifest: Manifest; tables: Record<string, TableSum> }> {
  const { manifest, staging } = await openArchive(file);
  try {
    const reg = (name: string) => {
      if (!manifest.registry.some((r) => r.name === name))
        throw new AppError('VALIDATION_FAILED', `The archive has no registry/${name}.ndjson`);
      return staging.path(`registry/${name}.ndjson`);
    };
    const people = await ndjson(reg('people'), person, 'registry/people.ndjson');
    const memberships = await ndjson(reg('memberships'), membership, 'registry/memberships.ndjson');
    const [settings] = await ndjson(reg('settings'), row, 'registry/settings.ndjson');
    const spec: RestoreSpec = {
      slug: opts.slug,
      to: opts.to ?? manifest.tier,
      name: manifest.tenant.name,
      plan: manifest.tenant.plan,
      branding: manifest.tenant.branding,
      templateVersion: manifest.templateVersion,
      people: people.map((p) => ({ sourceId: p.id, email: p.email, name: p.name })),
      memberships: memberships.map((m) => ({ sourceId: m.identity_id, role: m.role })),
      settings,
      invitations: await ndjson(reg('invitations'), row, 'registry/invitations.ndjson'),
      usage: {
        history: await ndjson(reg('usage_history'), row, 'registry/usage_history.ndjson'),
        messages: await ndjson(reg('usage_messages'), row, 'registry/usage_messages.ndjson'),
        apiCalls: await ndjson(reg('usage_api_calls'), row, 'registry/usage_api_calls.ndjson'),
      },
      tables: manifest.tables.map((t) => ({
        name: t.name,
        columns: t.columns,
        expected: { rows: String(t.rows), checksum: t.checksum },
        open: () => createReadStream(staging.path(t.file)),
      })),
      audit: {
        action: 'tenant.imported',
        values: {
          source_tenant_id: manifest.tenant.id,
          source_slug: manifest.tenant.slug,
          source_tier: manifest.tier,
          source_audit_head: manifest.auditHead,
          archive_sha256: await sha256Of(file),
          exported_at: manifest.createdAt,
        },
      },
    };
    const { tenant, tables } = await restoreTenant(deps, spec);
    return { tenant, manifest, tables };
  } finally {
    await staging.remove();
  }
}
