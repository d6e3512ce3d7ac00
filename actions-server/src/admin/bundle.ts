// The admin client is TypeScript under admin/client/, type-checked and linted
// with the rest of the tree; esbuild turns it into one ES module in memory
// (no build step, nothing written to disk). One bundle also resolves the bare
// imports inside preact's own modules, which a browser could only resolve
// through an inline import map that the page's CSP would have to allow.
import path from 'node:path';
import { build } from 'esbuild';

export interface ClientBundle {
  js: string;
}

export async function buildClient(): Promise<ClientBundle> {
  const result = await build({
    entryPoints: [path.join(import.meta.dirname, 'client/main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  const file = result.outputFiles[0];
  if (!file) throw new Error('the admin client bundle came out empty');
  return { js: file.text };
}
