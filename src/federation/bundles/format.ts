import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { classifierConfigSchema, type ClassifierConfig } from '../../classify/config.js';
import { formatIssues } from '../../config/issues.js';
import type { ConfigOverlay } from '../../config/loader.js';
import type { Config } from '../../config/schema.js';
import { policySchema, type Policy } from '../../policy/schema.js';
import { canonicalJson } from '../../policy/version.js';
import { deploymentId, keyId, type BundlePart } from './config.js';

export const BUNDLE_FORMAT = 'perimeter.bundle/v1';

/**
 * The parts of `classification:` that are dictionaries: what to look for (custom terms
 * and patterns, the deny list) and what never to report (the allow list and patterns).
 * Levels, entity levels, combinations and budgets stay each deployment's own: they
 * decide how findings weigh, which the receiving policy is written against.
 */
export const DICTIONARY_KEYS = ['custom', 'allowList', 'allowPatterns', 'denyList'] as const;
export type DictionaryKey = (typeof DICTIONARY_KEYS)[number];
export type DictionariesContent = Partial<Pick<ClassifierConfig, DictionaryKey>>;

export interface BundleContent {
  readonly classification?: DictionariesContent;
  readonly policy?: Policy;
}

/** Why a bundle was refused. Stable codes: they go into the audit trail and status(). */
export const BUNDLE_REJECT_REASONS = [
  'malformed',
  'unsupported_format',
  'unknown_key',
  'content_hash_mismatch',
  'bad_signature',
  'invalid_content',
  'wrong_publisher',
  'stale_version',
  'apply_failed',
] as const;
export type BundleRejectReason = (typeof BUNDLE_REJECT_REASONS)[number];

const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/;

/** The envelope; the content is checked apart from it, after the signature, so its reason is its own. */
const envelopeSchema = z.strictObject({
  format: z.string(),
  publisher: deploymentId,
  version: z.number().int().positive(),
  createdAt: z.iso.datetime({ offset: true }),
  contentSha256: z.string().regex(/^[0-9a-f]{64}$/),
  content: z.record(z.string(), z.unknown()),
  keyId,
  signature: z.string().regex(SIGNATURE, { message: 'must be a base64 Ed25519 signature' }),
});

export type SignedBundle = z.output<typeof envelopeSchema>;
export type UnsignedBundle = Omit<SignedBundle, 'signature'>;

const dictionaryKeys = z.strictObject({
  custom: z.unknown().optional(),
  allowList: z.unknown().optional(),
  allowPatterns: z.unknown().optional(),
  denyList: z.unknown().optional(),
});

/**
 * What a bundle may carry, checked with the sections' own schemas. Only the keys the
 * publisher sent come out, so a bundle without a deny list leaves the receiver's alone.
 */
export const bundleContentSchema = z
  .strictObject({
    classification: dictionaryKeys
      .transform((given, ctx): DictionariesContent => {
        const parsed = classifierConfigSchema.safeParse(given);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
          return z.NEVER;
        }
        const out: Record<string, unknown> = {};
        for (const key of DICTIONARY_KEYS) if (given[key] !== undefined) out[key] = parsed.data[key];
        return out as DictionariesContent;
      })
      .optional(),
    policy: policySchema.optional(),
  })
  .refine((c) => c.classification !== undefined || c.policy !== undefined, { message: 'must carry dictionaries, a policy, or both' });

export type VerifyOutcome =
  | { readonly ok: true; readonly bundle: SignedBundle; readonly content: BundleContent }
  | { readonly ok: false; readonly reason: BundleRejectReason; readonly detail: string; readonly bundle?: SignedBundle };

/** sha256 (hex) over the canonical JSON of the content. */
export function contentSha256(content: unknown): string {
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** The bytes the signature covers: canonical JSON of every field but `signature`. */
export function signingPayload(bundle: UnsignedBundle): Buffer {
  const { format, publisher, version, createdAt, contentSha256: sha, content, keyId: id } = bundle;
  return Buffer.from(canonicalJson({ format, publisher, version, createdAt, contentSha256: sha, content, keyId: id }), 'utf8');
}

export interface BundleFields {
  readonly publisher: string;
  readonly version: number;
  readonly createdAt: string;
  readonly keyId: string;
  readonly content: BundleContent;
}

/** Builds and signs a bundle. The content is carried as plain JSON, exactly as hashed. */
export function signBundle(fields: BundleFields, privateKey: KeyObject): SignedBundle {
  const content = JSON.parse(canonicalJson(fields.content)) as Record<string, unknown>;
  const unsigned: UnsignedBundle = {
    format: BUNDLE_FORMAT,
    publisher: fields.publisher,
    version: fields.version,
    createdAt: fields.createdAt,
    contentSha256: contentSha256(content),
    content,
    keyId: fields.keyId,
  };
  const signature = sign(null, signingPayload(unsigned), privateKey).toString('base64');
  return { ...unsigned, signature };
}

/**
 * Checks, in order: the envelope, the format, that the key is trusted, the content
 * hash, the signature, then the content against the section schemas. Publisher and
 * version are the subscriber's to judge (verifyBundle knows neither).
 */
export function verifyBundle(raw: unknown, trustedKeys: ReadonlyMap<string, KeyObject>): VerifyOutcome {
  const format = raw !== null && typeof raw === 'object' && 'format' in raw ? raw.format : undefined;
  if (typeof format === 'string' && format !== BUNDLE_FORMAT) {
    return { ok: false, reason: 'unsupported_format', detail: `format is not ${BUNDLE_FORMAT}` };
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) return { ok: false, reason: 'malformed', detail: formatIssues(envelope.error.issues).slice(0, 5).join('; ') };
  const bundle = envelope.data;
  const key = trustedKeys.get(bundle.keyId);
  if (key === undefined) return { ok: false, reason: 'unknown_key', detail: `keyId "${bundle.keyId}" is not trusted`, bundle };
  if (contentSha256(bundle.content) !== bundle.contentSha256) {
    return { ok: false, reason: 'content_hash_mismatch', detail: 'content does not match contentSha256', bundle };
  }
  const { signature, ...unsigned } = bundle;
  let valid = false;
  try {
    valid = verify(null, signingPayload(unsigned), key, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'bad_signature', detail: `signature does not verify with key "${bundle.keyId}"`, bundle };
  const content = bundleContentSchema.safeParse(bundle.content);
  if (!content.success) {
    return { ok: false, reason: 'invalid_content', detail: formatIssues(content.error.issues).slice(0, 5).join('; '), bundle };
  }
  return { ok: true, bundle, content: content.data };
}

/** The live config's parts a publisher shares. */
export function bundleContentFromConfig(config: Config, include: readonly BundlePart[]): BundleContent {
  const { custom, allowList, allowPatterns, denyList } = config.classification;
  return {
    ...(include.includes('dictionaries') ? { classification: { custom, allowList, allowPatterns, denyList } } : {}),
    ...(include.includes('policy') ? { policy: config.policy } : {}),
  };
}

/** Where a bundle's content goes in the receiver's config: dictionary keys merged into classification, the policy replaced. */
export function bundleOverlay(content: BundleContent): ConfigOverlay {
  return {
    ...(content.classification === undefined ? {} : { merge: { classification: content.classification } }),
    ...(content.policy === undefined ? {} : { replace: { policy: content.policy } }),
  };
}

export class BundleKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleKeyError';
  }
}

/** An Ed25519 private key from PKCS#8 PEM; anything else is refused. */
export function ed25519PrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new BundleKeyError('signing key is not a PEM private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleKeyError(`signing key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`);
  return key;
}

/** An Ed25519 public key from SPKI PEM; anything else is refused. */
export function ed25519PublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new BundleKeyError('public key is not a PEM public key');
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw new BundleKeyError(`public key is ${key.asymmetricKeyType ?? 'unknown'}, not ed25519`);
  }
  return key;
}

/** A short, stable name for a public key (sha256 of its DER, 16 hex), handy as a keyId. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}
