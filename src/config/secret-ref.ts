import { z } from 'zod';

// Kept apart from schema.ts so that section schemas (auth, records) can use it
// without importing the root schema, which imports them.
const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/\S+)$/;

/** Secrets and key material are only ever named, never written into the config. */
export const secretRef = z
  .string()
  .regex(SECRET_REF, { message: 'must be a reference: env:NAME or file:/absolute/path (inline secrets are not accepted)' });

/** Why a reference is outside a tier's secret source, or undefined when it is inside. */
export function refOutsideSource(ref: string, source: { envPrefix: string; fileDir?: string | undefined }): string | undefined {
  if (ref.startsWith('env:')) {
    return ref.slice(4).startsWith(source.envPrefix) ? undefined : `env var must start with ${source.envPrefix}, the prefix`;
  }
  const path = ref.slice(5);
  if (source.fileDir === undefined) return 'file references need fileDir to be set as part';
  const dir = source.fileDir.replace(/\/*$/, '/');
  return path.startsWith(dir) && !path.split('/').includes('..') ? undefined : `file must be under ${dir}, the directory`;
}
