import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import type { BundlePublishConfig } from './config.js';
import { bundleContentFromConfig, contentSha256, signBundle, type SignedBundle } from './format.js';
import { readJsonFile, writeFileAtomic } from './state-file.js';

/** The publisher's counter: the last version it handed out and the content it had. */
const counterSchema = z.strictObject({
  version: z.number().int().positive(),
  contentSha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.iso.datetime({ offset: true }),
});
type Counter = z.output<typeof counterSchema>;

export interface BundlePublisherOptions {
  readonly config: BundlePublishConfig;
  /** This deployment's id; peers subscribe to it by name. */
  readonly publisher: string;
  readonly signingKey: KeyObject;
  /** The config serving now (live.current.config), read on every build, so a reload is published. */
  readonly source: () => Config;
  readonly now?: () => Date;
}

/**
 * Builds and signs the bundle peers pull. The version goes up by one exactly when the
 * content's hash changes and is persisted (temp + rename) before the bundle is handed
 * out, so it never repeats or goes back across restarts; unchanged content gets the
 * same version and timestamp, and so (Ed25519 being deterministic) the same bytes.
 */
export class BundlePublisher {
  readonly #options: BundlePublisherOptions;
  #counter: Counter | undefined;
  #loaded = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(options: BundlePublisherOptions) {
    this.#options = options;
  }

  /** The current signed bundle. Throws when the counter file is unreadable: better no bundle than a repeated version. */
  latest(): Promise<SignedBundle> {
    const run = this.#tail.then(() => this.#build());
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /** For the federation server's `bundles.pull` operation: the request body is ignored. */
  readonly handlePull = async (_body?: unknown): Promise<SignedBundle> => this.latest();

  async #build(): Promise<SignedBundle> {
    const { config, publisher, signingKey, source } = this.#options;
    if (!this.#loaded) {
      const stored = await readJsonFile(config.stateFile);
      if (stored !== undefined) {
        const parsed = counterSchema.safeParse(stored);
        if (!parsed.success) throw new Error(`${config.stateFile}: not a bundle version counter`);
        this.#counter = parsed.data;
      }
      this.#loaded = true;
    }
    const content = bundleContentFromConfig(source(), config.include);
    const sha = contentSha256(content);
    let counter = this.#counter;
    if (counter === undefined || counter.contentSha256 !== sha) {
      counter = { version: (counter?.version ?? 0) + 1, contentSha256: sha, createdAt: (this.#options.now?.() ?? new Date()).toISOString() };
      await writeFileAtomic(config.stateFile, `${JSON.stringify(counter)}\n`);
      this.#counter = counter;
    }
    return signBundle({ publisher, version: counter.version, createdAt: counter.createdAt, keyId: config.keyId, content }, signingKey);
  }
}
