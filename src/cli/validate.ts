import { ConfigError, loadConfig } from '../config/loader.js';
import { SecretError } from '../config/secrets.js';
import { TIERS } from '../domain/tier.js';

export interface ValidateResult {
  ok: boolean;
  lines: string[];
}

/**
 * Validates a config file. With checkSecrets, every secret reference is also
 * resolved through its tier's source (values are never printed).
 */
export function validateConfigFile(path: string, checkSecrets: boolean): ValidateResult {
  try {
    const loaded = loadConfig(path);
    const { config } = loaded;
    const problems: string[] = [];
    if (checkSecrets) {
      config.backends.forEach((b, i) => {
        const refs: [string, string | undefined][] = [
          ['credentials', b.credentials],
          ['tls.ca', b.tls?.ca],
          ['tls.cert', b.tls?.cert],
          ['tls.key', b.tls?.key],
        ];
        for (const [field, ref] of refs) {
          if (ref === undefined) continue;
          try {
            loaded.secrets[b.tier].resolve(ref);
          } catch (err) {
            if (!(err instanceof SecretError)) throw err;
            problems.push(`backends[${i}].${field}: ${err.message}`);
          }
        }
      });
    }
    if (problems.length > 0) return { ok: false, lines: [`${path}: invalid config`, ...problems.map((p) => `  ${p}`)] };
    const perTier = TIERS.map((t) => `${t}: ${config.backends.filter((b) => b.tier === t).length}`).join(', ');
    const models = config.backends.reduce((n, b) => n + b.models.length, 0);
    return { ok: true, lines: [`${path}: ok (${config.backends.length} backends — ${perTier}; ${models} models)`] };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, lines: err.message.split('\n') };
    throw err;
  }
}
