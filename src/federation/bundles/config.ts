import { z } from 'zod';
import { secretRef } from '../../config/secret-ref.js';

/** A deployment id, as `deployment.id` spells it. */
export const deploymentId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { message: 'must be lowercase letters, digits, ".", "_" or "-"' });

export const keyId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, { message: 'must be letters, digits, ".", "_", ":" or "-"' });

/** What a published bundle carries: the classifier's dictionaries, the policy section, or both. */
export const BUNDLE_PARTS = ['dictionaries', 'policy'] as const;
export type BundlePart = (typeof BUNDLE_PARTS)[number];

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

/** A public key is not a secret, so it may be written inline; a reference works too. */
const publicKey = z.union([z.string().regex(PEM_PUBLIC_KEY), secretRef], {
  error: () => 'must be an SPKI PEM public key (-----BEGIN PUBLIC KEY-----) or a reference env:NAME / file:/absolute/path',
});

const publish = z.strictObject({
  /** PKCS#8 PEM Ed25519 private key; a gateway secret, outside every tier's secret source. */
  signingKey: secretRef,
  keyId,
  include: z
    .array(z.enum(BUNDLE_PARTS))
    .min(1)
    .refine((parts) => new Set(parts).size === parts.length, { message: 'must not repeat a part' })
    .default([...BUNDLE_PARTS]),
  /**
   * Where the publisher keeps its version counter: the version goes up by one each time
   * the published content changes, and survives restarts, so peers never see it go back.
   */
  stateFile: z.string().startsWith('/', { message: 'must be an absolute path' }),
});

const subscribe = z
  .strictObject({
    /** The deployment id of the peer whose bundles are applied; a bundle from anyone else is refused. */
    from: deploymentId,
    trustedKeys: z.array(z.strictObject({ keyId, publicKey })).min(1),
    intervalMs: z.number().int().refine((n) => n === 0 || n >= 1_000, { message: 'must be 0 (pull on demand only) or at least 1000' }).default(60_000),
    /** The last applied bundle, kept so a restart re-applies it (and refuses anything older). */
    stateFile: z.string().startsWith('/', { message: 'must be an absolute path' }),
  })
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.trustedKeys.forEach((k, i) => {
      if (seen.has(k.keyId)) ctx.addIssue({ code: 'custom', path: ['trustedKeys', i, 'keyId'], message: `duplicate keyId "${k.keyId}"` });
      seen.add(k.keyId);
    });
  });

/** The `bundles:` section: signed shared dictionaries and policy. See docs/bundles.md. */
export const bundlesSchema = z
  .strictObject({
    publish: publish.optional(),
    subscribe: subscribe.optional(),
  })
  .superRefine((b, ctx) => {
    if (b.publish !== undefined && b.subscribe !== undefined && b.publish.stateFile === b.subscribe.stateFile) {
      ctx.addIssue({ code: 'custom', path: ['subscribe', 'stateFile'], message: 'must differ from publish.stateFile' });
    }
  });

export type BundlesConfig = z.output<typeof bundlesSchema>;
export type BundlePublishConfig = NonNullable<BundlesConfig['publish']>;
export type BundleSubscribeConfig = NonNullable<BundlesConfig['subscribe']>;
