import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Tests run from dist/test/...; the repository root is three levels above this file's folder. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const cliPath = resolve(repoRoot, 'dist', 'src', 'cli', 'main.js');
