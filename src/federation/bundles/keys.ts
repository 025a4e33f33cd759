import type { KeyObject } from 'node:crypto';
import type { BundlePublishConfig, BundleSubscribeConfig } from './config.js';
import { ed25519PrivateKey, ed25519PublicKey } from './format.js';

/** Resolves a secret reference (env:/file:) to its text; the gateway's own resolver outside the tiers. */
export type ResolveSecret = (ref: string) => string;

/** The publisher's signing key. Throws BundleKeyError or SecretError: a publisher without its key must not start. */
export function signingKey(config: BundlePublishConfig, resolve: ResolveSecret): KeyObject {
  return ed25519PrivateKey(resolve(config.signingKey));
}

/** keyId → public key for every trusted key; inline PEM is used as is, references are resolved. */
export function trustedKeys(config: BundleSubscribeConfig, resolve: ResolveSecret): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const k of config.trustedKeys) {
    keys.set(k.keyId, ed25519PublicKey(k.publicKey.startsWith('-----BEGIN') ? k.publicKey : resolve(k.publicKey)));
  }
  return keys;
}
