import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { TIERS, type Tier } from '../domain/tier.js';
import { basesLevelProblems } from '../federation/bases/config.js';
import { policyLevelProblems } from '../policy/schema.js';
import { ModelCatalog } from '../route/catalog.js';
import { routingProblems } from '../route/config.js';
import { formatIssues, formatPath } from './issues.js';
import { configSchema, type Config } from './schema.js';
import { SecretSource } from './secrets.js';

export interface LoadedConfig {
  readonly config: Config;
  readonly path: string;
  /** One source per tier; compose hands a backend only its own tier's. */
  readonly secrets: Readonly<Record<Tier, SecretSource>>;
  /**
   * Env vars outside every tier's prefix, for the gateway's own secrets (key pepper,
   * store URLs). A snapshot, so nothing below the loader reads process.env.
   */
  readonly gatewayEnv: Readonly<Record<string, string>>;
  /** Reads the same file again, with the same overrides (overlay included) and environment source (reload). */
  reread(): LoadedConfig;
  /**
   * The same text this config was parsed from, with `overlay` in place of the one it
   * had (undefined: none). Nothing is re-read from disk, so only the overlay changes.
   */
  withOverlay(overlay: ConfigOverlay | undefined): LoadedConfig;
}

/**
 * Parts of the config that come from elsewhere (a verified federation bundle) and
 * take the place of the file's, before validation: the merged whole is validated as
 * one config, so an overlay that does not fit the file is refused like a bad file.
 */
export interface ConfigOverlay {
  /** Section → keys that replace the same keys of that section; the section's other keys stay the file's. */
  readonly merge?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Section → a value that replaces the whole section. */
  readonly replace?: Readonly<Record<string, unknown>>;
}

export interface LoadOverrides {
  port?: number;
  overlay?: ConfigOverlay | undefined;
}

/** A config that failed validation. Each message is `path: reason`. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file}: invalid config\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Reads, validates and freezes the config. This module is the only reader of
 * process.env: PERIMETER_PORT, and the per-tier secret env vars.
 */
export function loadConfig(path: string, overrides: LoadOverrides = {}, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  return { ...loadConfigText(text, path, overrides, env), reread: () => loadConfig(path, overrides, env) };
}

/** As loadConfig, from YAML text already in hand (tests, admin reloads). */
export function loadConfigText(
  text: string,
  path: string,
  overrides: LoadOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const config = parseConfig(text, path, { ...overrides, port: overrides.port ?? portFromEnv(env, path) });
  const secrets = Object.freeze(
    Object.fromEntries(TIERS.map((t) => [t, new SecretSource(t, config.secrets[t], env)])) as Record<Tier, SecretSource>,
  );
  const prefixes = TIERS.map((t) => config.secrets[t].envPrefix);
  const gatewayEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !prefixes.some((p) => name.startsWith(p))) gatewayEnv[name] = value;
  }
  return Object.freeze({
    config,
    path,
    secrets,
    gatewayEnv: Object.freeze(gatewayEnv),
    reread: () => loadConfig(path, overrides, env),
    withOverlay: (overlay: ConfigOverlay | undefined) => loadConfigText(text, path, { ...overrides, overlay }, env),
  });
}

function portFromEnv(env: NodeJS.ProcessEnv, path: string): number | undefined {
  const raw = env.PERIMETER_PORT;
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(path, [`PERIMETER_PORT: expected an integer from 0 to 65535, got "${raw}"`]);
  }
  return port;
}

/** Parses YAML text into a frozen, validated config. */
export function parseConfig(text: string, file = '<config>', overrides: LoadOverrides = {}): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => `yaml: ${e.message.split('\n')[0] ?? e.message}`));
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  const input = overrides.overlay === undefined ? (raw ?? {}) : applyOverlay(raw ?? {}, overrides.overlay);
  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(file, formatIssues(result.error.issues));
  const config = result.data;
  // Checks that span sections, which no single section's schema can see.
  const problems = [
    ...policyLevelProblems(config.policy, config.classification.levels).map((p) => `${formatPath(['policy', ...p.path])}: ${p.message}`),
    ...routingProblems(config.routing, new ModelCatalog(config)),
    ...basesEmbeddingProblems(config),
    ...basesLevelProblems(config.bases, config.classification.levels).map((p) => `${formatPath(['bases', ...p.path])}: ${p.message}`),
  ];
  if (problems.length > 0) throw new ConfigError(file, problems);
  if (overrides.port !== undefined) config.server.port = overrides.port;
  return deepFreeze(config);
}

/** The file's parsed YAML with the overlay's sections in place; the file's own value is not modified. */
function applyOverlay(raw: unknown, overlay: ConfigOverlay): unknown {
  // Not a mapping: leave it for the schema to report.
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [section, keys] of Object.entries(overlay.merge ?? {})) {
    const current = out[section];
    if (current === undefined || current === null) out[section] = { ...keys };
    else if (typeof current === 'object' && !Array.isArray(current)) out[section] = { ...(current as Record<string, unknown>), ...keys };
    // Otherwise the file's section is malformed; it stays, and the schema says so.
  }
  for (const [section, value] of Object.entries(overlay.replace ?? {})) out[section] = value;
  return out;
}

function basesEmbeddingProblems(config: Config): string[] {
  const model = config.bases.embeddings?.model;
  if (model === undefined) return [];
  const entries = new ModelCatalog(config).find(model) ?? [];
  return entries.some((e) => e.kind === 'embedding') ? [] : [`bases.embeddings.model: "${model}" is not an embedding model of any backend`];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
