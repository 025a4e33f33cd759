import type { Config } from '../../config/schema.js';
import type { AuditEvent } from '../../record/audit.js';
import type { Logger } from '../../telemetry/logger.js';
import type { BundlesConfig } from './config.js';
import type { BundleContent } from './format.js';
import { signingKey, trustedKeys, type ResolveSecret } from './keys.js';
import { BundlePublisher } from './publisher.js';
import { BundleSubscriber, type ApplyResult } from './subscriber.js';

export interface BundlesDeps {
  /** This deployment's id (config.deployment.id). */
  readonly deploymentId: string;
  /** Gateway secrets: the signing key, and trusted keys given as references. */
  readonly resolveSecret: ResolveSecret;
  /** The config serving now, for the publisher. */
  readonly source: () => Config;
  /** Pulls the `from` peer's latest bundle (federation operation `bundles.pull`); throws on failure. */
  readonly fetch: () => Promise<unknown>;
  /** Gateway.applyOverlay(bundleOverlay(content)). */
  readonly apply: (content: BundleContent) => Promise<ApplyResult>;
  /** The live audit trail's append. */
  readonly append: (event: AuditEvent) => Promise<unknown>;
  readonly logger?: Logger;
}

export interface Bundles {
  /** Set when `bundles.publish` is configured; register its handlePull for `bundles.pull`. */
  readonly publisher: BundlePublisher | undefined;
  /** Set when `bundles.subscribe` is configured: restore() before listening, then start(); stop() on shutdown. */
  readonly subscriber: BundleSubscriber | undefined;
}

/** Builds what the `bundles:` section asks for. Throws when a key cannot be loaded: a misconfigured key must not start. */
export function createBundles(config: BundlesConfig, deps: BundlesDeps): Bundles {
  const publisher =
    config.publish === undefined
      ? undefined
      : new BundlePublisher({
          config: config.publish,
          publisher: deps.deploymentId,
          signingKey: signingKey(config.publish, deps.resolveSecret),
          source: deps.source,
        });
  const subscriber =
    config.subscribe === undefined
      ? undefined
      : new BundleSubscriber({
          config: config.subscribe,
          trustedKeys: trustedKeys(config.subscribe, deps.resolveSecret),
          fetch: deps.fetch,
          apply: deps.apply,
          append: deps.append,
          ...(deps.logger === undefined ? {} : { logger: deps.logger }),
        });
  return { publisher, subscriber };
}
