import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/loader.js';
import { BUNDLE_PARTS, keyId as keyIdSchema, type BundlePart } from '../federation/bundles/config.js';
import {
  bundleContentFromConfig,
  ed25519PrivateKey,
  ed25519PublicKey,
  keyFingerprint,
  signBundle,
  verifyBundle,
} from '../federation/bundles/format.js';

export interface BundlesCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export const BUNDLES_USAGE = `perimeter bundles keygen --out <dir>
perimeter bundles sign   --config <yaml> --key <private.pem> --key-id <id> --version <n> [--publisher <id>] [--include dictionaries,policy]
perimeter bundles verify --bundle <file> --public-key <public.pem> [--key-id <id>]`;

/** `perimeter bundles keygen|sign|verify`. Returns the exit code. */
export function runBundlesCli(args: readonly string[], io: BundlesCliIo): number {
  const [sub, ...rest] = args;
  const fail = (message: string): number => {
    io.stderr.write(`perimeter bundles: ${message}\n\n${BUNDLES_USAGE}\n`);
    return 1;
  };
  switch (sub) {
    case 'keygen': {
      const { values } = parseArgs({ args: [...rest], options: { out: { type: 'string' } } });
      if (values.out === undefined) return fail('keygen: --out <dir> is required');
      const dir = resolve(values.out);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const privatePath = join(dir, 'bundle-signing.key.pem');
      const publicPath = join(dir, 'bundle-signing.pub.pem');
      // 'wx': an existing key is never overwritten; losing it would orphan every peer's trust.
      writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
      writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644, flag: 'wx' });
      io.stdout.write(`private key (PKCS#8): ${privatePath}\npublic key (SPKI):    ${publicPath}\nfingerprint (a keyId you may use): ${keyFingerprint(publicKey)}\n`);
      return 0;
    }
    case 'sign': {
      const { values } = parseArgs({
        args: [...rest],
        options: {
          config: { type: 'string', short: 'c' },
          key: { type: 'string' },
          'key-id': { type: 'string' },
          version: { type: 'string' },
          publisher: { type: 'string' },
          include: { type: 'string' },
        },
      });
      if (values.config === undefined || values.key === undefined || values['key-id'] === undefined || values.version === undefined) {
        return fail('sign: --config, --key, --key-id and --version are required');
      }
      const version = Number(values.version);
      if (!Number.isSafeInteger(version) || version < 1) return fail(`sign: --version must be a positive integer, got "${values.version}"`);
      if (!keyIdSchema.safeParse(values['key-id']).success) return fail('sign: --key-id must be letters, digits, ".", "_", ":" or "-"');
      const include = (values.include ?? BUNDLE_PARTS.join(',')).split(',').map((p) => p.trim());
      const parts = include.filter((p): p is BundlePart => (BUNDLE_PARTS as readonly string[]).includes(p));
      if (parts.length !== include.length || parts.length === 0) return fail(`sign: --include takes ${BUNDLE_PARTS.join(', ')}`);
      const { config } = loadConfig(values.config);
      const key = ed25519PrivateKey(readFileSync(values.key, 'utf8'));
      const bundle = signBundle(
        {
          publisher: values.publisher ?? config.deployment.id,
          version,
          createdAt: new Date().toISOString(),
          keyId: values['key-id'],
          content: bundleContentFromConfig(config, parts),
        },
        key,
      );
      io.stdout.write(`${JSON.stringify(bundle, null, 2)}\n`);
      return 0;
    }
    case 'verify': {
      const { values } = parseArgs({
        args: [...rest],
        options: { bundle: { type: 'string' }, 'public-key': { type: 'string' }, 'key-id': { type: 'string' } },
      });
      if (values.bundle === undefined || values['public-key'] === undefined) return fail('verify: --bundle and --public-key are required');
      const publicKey = ed25519PublicKey(readFileSync(values['public-key'], 'utf8'));
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(values.bundle, 'utf8')) as unknown;
      } catch {
        io.stderr.write('rejected: malformed: not a JSON file\n');
        return 1;
      }
      // With --key-id the key is trusted under that id only; without, under whatever id the bundle names.
      const claimed = raw !== null && typeof raw === 'object' && 'keyId' in raw && typeof raw.keyId === 'string' ? raw.keyId : '';
      const trusted = new Map<string, KeyObject>([[values['key-id'] ?? claimed, publicKey]]);
      const outcome = verifyBundle(raw, trusted);
      if (!outcome.ok) {
        io.stderr.write(`rejected: ${outcome.reason}: ${outcome.detail}\n`);
        return 1;
      }
      const { bundle, content } = outcome;
      io.stdout.write(
        `ok: ${bundle.format} publisher=${bundle.publisher} version=${bundle.version} keyId=${bundle.keyId} ` +
          `sha256=${bundle.contentSha256} parts=${Object.keys(content).join(',')}\n`,
      );
      return 0;
    }
    default:
      return fail(sub === undefined ? 'name a subcommand' : `unknown subcommand "${sub}"`);
  }
}
