// Comments may point a reader only at documents the repository holds: every
// markdown file named in source, SQL, metadata or build files must exist here.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHECKED = /\.(?:ts|js|mjs|sql|ya?ml|graphql|json)$|(?:^|\/)(?:Dockerfile|run)$/;

test('no source, SQL, metadata or build file names a markdown document that is not in the repository', () => {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter(
      (f) =>
        CHECKED.test(f) &&
        !f.startsWith('node_modules/') &&
        !f.includes('/schema/metadata.openapi.json') &&
        !f.endsWith('package-lock.json'),
    );
  const markdown = new Set(
    execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean),
  );
  const basenames = new Set([...markdown].map((f) => path.basename(f)));
  const missing: string[] = [];
  for (const file of files) {
    if (!existsSync(path.join(ROOT, file))) continue;
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    for (const match of text.matchAll(/[\w./-]{0,200}\b[\w-]{1,100}\.md\b/g)) {
      const cited = match[0].replace(/^\.\//, '');
      // `draft.md` is a property read, not a document: documents are named in capitals or by path.
      if (!cited.includes('/') && cited === cited.toLowerCase()) continue;
      const known =
        markdown.has(cited) ||
        markdown.has(path.normalize(path.join(path.dirname(file), cited))) ||
        (!cited.includes('/') && basenames.has(cited));
      if (!known) missing.push(`${file}: ${cited}`);
    }
  }
  expect(missing).toEqual([]);
  expect(files.length).toBeGreaterThan(100);
});
