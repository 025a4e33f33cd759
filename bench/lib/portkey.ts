import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The Portkey release the issue's reference figures were taken with. */
export const PORTKEY_VERSION = '1.15.2';
/**
 * @hono/node-server releases after 1.12 keep a fetch() response's immutable Headers
 * inside the Response they build, and Portkey then fails every streamed chat
 * completion with `TypeError: immutable` (Portkey-AI/gateway#1389, #1550). Pinned so
 * that Portkey streams at all; non-streaming behaves the same either way.
 */
export const HONO_NODE_SERVER_PIN = '1.12.0';

export interface PortkeyInstall {
  readonly dir: string;
  /** The package's bin script (its Node entry). */
  readonly entry: string;
  readonly version: string;
  readonly honoNodeServer: string;
}

function installedVersion(dir: string, pkg: string): string | undefined {
  try {
    const json = JSON.parse(readFileSync(join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : undefined;
  } catch {
    return undefined;
  }
}

function binEntry(dir: string): string | undefined {
  const pkgDir = join(dir, 'node_modules', '@portkey-ai', 'gateway');
  try {
    const json = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { bin?: unknown };
    const bin = typeof json.bin === 'string' ? json.bin : typeof json.bin === 'object' && json.bin !== null ? Object.values(json.bin)[0] : undefined;
    return typeof bin === 'string' ? resolve(pkgDir, bin) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Installs Portkey's open-source gateway into `<root>/.bench/portkey` (gitignored) with
 * the ordinary npm client, unless that exact install is already there. It is never a
 * dependency of the product. Returns the install, or why there is none.
 */
export function ensurePortkey(root: string): PortkeyInstall | { readonly error: string } {
  const dir = join(root, '.bench', 'portkey');
  const current = (): PortkeyInstall | undefined => {
    const entry = binEntry(dir);
    const version = installedVersion(dir, '@portkey-ai/gateway');
    const hono = installedVersion(dir, '@hono/node-server');
    if (entry === undefined || !existsSync(entry) || version !== PORTKEY_VERSION || hono !== HONO_NODE_SERVER_PIN) return undefined;
    return { dir, entry, version, honoNodeServer: hono };
  };
  const found = current();
  if (found !== undefined) return found;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify(
      {
        private: true,
        description: 'Installed by bench/gateway-bench.ts for comparison; not part of Perimeter.',
        dependencies: { '@portkey-ai/gateway': PORTKEY_VERSION, '@hono/node-server': HONO_NODE_SERVER_PIN },
        overrides: { '@hono/node-server': HONO_NODE_SERVER_PIN },
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir} …\n`);
  const npm = join(dirname(process.execPath), 'npm');
  const r = spawnSync(existsSync(npm) ? npm : 'npm', ['install', '--prefix', dir, '--no-audit', '--no-fund'], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 300_000,
  });
  if (r.status !== 0) return { error: `npm install failed (${r.error?.message ?? `exit ${String(r.status)}`})` };
  return current() ?? { error: 'npm install finished but the Portkey entry or pinned versions are missing' };
}
