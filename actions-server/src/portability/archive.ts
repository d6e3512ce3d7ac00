// The export archive: a tar.gz holding manifest.json first, then the tenant's
// registry rows (registry/<name>.ndjson) and one file per tenant table in
// COPY text format (data/<table>.copy). Files are staged on disk while their
// SHA-256 is taken, so memory stays flat however large the tenant is; the
// manifest lists every file with its size and hash, and reading an archive
// checks them all before anything is used.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { z } from 'zod';
import { AppError } from '../core/errors.ts';

export const ARCHIVE_FORMAT = 'saas-tenant-export';
export const ARCHIVE_VERSION = 1;

const fileName = z
  .string()
  .max(100)
  .regex(/^(registry\/[a-z][a-z0-9_]{0,62}\.ndjson|data\/[a-z][a-z0-9_]{0,62}\.copy)$/);
const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const identifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/);

export const fileEntrySchema = z.object({
  file: fileName,
  bytes: z.number().int().min(0),
  sha256: sha256Hex,
  rows: z.number().int().min(0),
});
export const tableEntrySchema = fileEntrySchema.extend({
  name: identifier,
  columns: z.array(identifier).min(1),
  /** Order-independent checksum of the rows (as moves compare copies). */
  checksum: z.string().regex(/^-?\d{1,40}$/),
});
export const manifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  version: z.literal(ARCHIVE_VERSION),
  createdAt: z.string(),
  tenant: z.object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    plan: z.string(),
    status: z.string(),
    branding: z.record(z.string(), z.unknown()),
  }),
  tier: z.enum(['schema', 'pooled', 'database']),
  templateVersion: z.number().int().min(0),
  /** The head of the tenant's audit chain when exported (its entries are in registry/audit_logs.ndjson). */
  auditHead: z.object({ seq: z.number().int().min(0), hash: z.string().nullable() }),
  tables: z.array(tableEntrySchema),
  registry: z.array(fileEntrySchema.extend({ name: identifier })),
});
export type Manifest = z.infer<typeof manifestSchema>;
export type TableEntry = z.infer<typeof tableEntrySchema>;
export type FileEntry = z.infer<typeof fileEntrySchema>;

const archiveError = (message: string, details?: Record<string, unknown>) => new AppError('VALIDATION_FAILED', message, details);

/** Counts bytes, rows (newlines) and the SHA-256 of what passes through. */
export class Tally extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  rows = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) this.rows++;
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

/**
 * COPY's text format of a single json column → NDJSON. JSON text (as jsonb
 * prints it) holds no raw control characters, so the only escape COPY adds is
 * a doubled backslash; a pair may straddle two chunks.
 */
export class CopyJsonToNdjson extends Transform {
  private pending = false;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const out = Buffer.allocUnsafe(chunk.length);
    let n = 0;
    for (const byte of chunk) {
      if (this.pending) {
        out[n++] = byte;
        this.pending = false;
      } else if (byte === 92) this.pending = true;
      else out[n++] = byte;
    }
    cb(null, out.subarray(0, n));
  }
}

/** A directory of staged files that becomes an archive. */
export class Staging {
  private constructor(readonly dir: string) {}

  static async create(): Promise<Staging> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tenant-export-'));
    await mkdir(path.join(dir, 'registry'));
    await mkdir(path.join(dir, 'data'));
    return new Staging(dir);
  }

  /** Writes one file from a stream (through optional transforms), returning its tally. */
  async write(file: string, source: Readable, ...transforms: Transform[]): Promise<FileEntry> {
    const tally = new Tally();
    const target = path.join(this.dir, file);
    await pipeline([source, ...transforms, tally, createWriteStream(target)] as unknown as [Readable, Writable]);
    return { file, bytes: tally.bytes, rows: tally.rows, sha256: tally.digest() };
  }

  /** tar.gz of manifest.json then every listed file, in order, to `out`; returns the archive's size and SHA-256. */
  async pack(manifest: Manifest, out: string): Promise<{ bytes: number; sha256: string }> {
    const pack = tar.pack();
    const tally = new Tally();
    const written = pipeline(pack, zlib.createGzip(), tally, createWriteStream(out));
    const body = Buffer.from(JSON.stringify(manifest, null, 2));
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name: 'manifest.json', size: body.length }, body, (e) => (e ? reject(e) : resolve())),
    );
    for (const f of [...manifest.registry, ...manifest.tables]) {
      const full = path.join(this.dir, f.file);
      const { size } = await stat(full);
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: f.file, size }, (e) => (e ? reject(e) : resolve()));
        createReadStream(full).on('error', reject).pipe(entry);
      });
    }
    pack.finalize();
    await written;
    return { bytes: tally.bytes, sha256: tally.digest() };
  }

  path(file: string): string {
    return path.join(this.dir, file);
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Unpacks an archive into a staging directory and checks it whole: a gzip'd
 * tar, manifest first and valid, every file listed with the right size and
 * SHA-256, nothing else. Throws VALIDATION_FAILED naming the problem (and
 * removes what it unpacked).
 */
export async function openArchive(file: string): Promise<{ manifest: Manifest; staging: Staging }> {
  const staging = await Staging.create();
  try {
    let manifest: Manifest | undefined;
    const seen = new Map<string, FileEntry>();
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const name = header.name;
      const done = (err?: unknown) => (err ? next(err as Error) : next());
      if (header.type !== 'file') return done(archiveError(`Not a tenant export: unexpected entry ${name.slice(0, 100)}`));
      if (name === 'manifest.json') {
        const chunks: Buffer[] = [];
        let size = 0;
        stream.on('data', (c: unknown) => {
          if (!Buffer.isBuffer(c)) return;
          size += c.length;
          if (size <= 4_000_000) chunks.push(c);
        });
        stream.on('error', done);
        stream.on('end', () => {
          try {
            if (size > 4_000_000) throw archiveError('Not a tenant export: the manifest is too large');
            const parsed = manifestSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
            if (!parsed.success)
              throw archiveError(
                `Not a tenant export: invalid manifest (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`,
              );
            manifest = parsed.data;
            done();
          } catch (err) {
            done(err instanceof AppError ? err : archiveError('Not a tenant export: the manifest is not JSON'));
          }
        });
        return;
      }
      if (!manifest) return done(archiveError('Not a tenant export: manifest.json must come first'));
      if (!fileName.safeParse(name).success) return done(archiveError(`Unknown file in the archive: ${name.slice(0, 100)}`));
      if (seen.has(name)) return done(archiveError(`The archive holds ${name} twice`));
      const tally = new Tally();
      pipeline(stream, tally, createWriteStream(staging.path(name))).then(() => {
        seen.set(name, { file: name, bytes: tally.bytes, rows: tally.rows, sha256: tally.digest() });
        done();
      }, done);
    });
    try {
      await pipeline(createReadStream(file), zlib.createGunzip(), extract);
    } catch (err) {
      if (err instanceof AppError) throw err;
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') throw archiveError(`No such file: ${file}`);
      if (code === 'Z_DATA_ERROR') throw archiveError('Not an archive: the file is not gzip data');
      if (code === 'Z_BUF_ERROR') throw archiveError('The archive is truncated (its gzip stream ends early)');
      throw archiveError(`Not a readable archive: ${(err as Error).message}`);
    }
    if (!manifest) throw archiveError('Not a tenant export: no manifest.json');
    const m: Manifest = manifest;
    const listed = [...m.registry, ...m.tables];
    for (const f of listed) {
      const got = seen.get(f.file);
      if (!got) throw archiveError(`The archive is truncated: ${f.file} is missing`, { file: f.file });
      if (got.bytes !== f.bytes || got.sha256 !== f.sha256) {
        throw archiveError(`Checksum mismatch in ${f.file}: the archive was altered or damaged`, { file: f.file });
      }
      if (got.rows !== f.rows) throw archiveError(`Row count mismatch in ${f.file}`, { file: f.file });
    }
    const extra = [...seen.keys()].filter((n) => !listed.some((f) => f.file === n));
    if (extra.length) throw archiveError(`Unknown file in the archive: ${extra[0]}`, { files: extra });
    return { manifest: m, staging };
  } catch (err) {
    await staging.remove();
    throw err;
  }
}
