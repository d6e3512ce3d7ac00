// For tests that need no database (doubles, pure functions) while developing: `npx vitest run -c vitest.nodb.config.ts <file>`.
import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['tests/**/*.test.ts'], testTimeout: 30_000 } });
