import { createClassifier } from './classify/classifier.js';
import type { LoadedConfig } from './config/loader.js';
import type { Config } from './config/schema.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { ClassifyStep } from './pipeline/classify-step.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { Provider } from './providers/provider.js';
import { createProvider } from './providers/registry.js';
import { createPolicyEngine } from './policy/engine.js';
import { ModelCatalog } from './route/catalog.js';
import { Router } from './route/router.js';
import { createLogger, type Logger } from './telemetry/logger.js';

export interface Gateway {
  readonly config: Config;
  readonly logger: Logger;
  readonly http: HttpServer;
  readonly pipeline: Pipeline;
  /** Closes upstream connection pools. Call after the HTTP server has drained. */
  closeProviders(): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
}

/** The one place that constructs adapters and services. Nothing here listens yet. */
export function compose(loaded: LoadedConfig, options: ComposeOptions = {}): Gateway {
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.logging.level);
  const providers = new Map<string, Provider>();
  try {
    for (const backend of config.backends) {
      // Each backend sees only its own tier's secret source.
      providers.set(backend.id, createProvider(backend, loaded.secrets[backend.tier]));
    }
  } catch (err) {
    for (const p of providers.values()) void p.close();
    throw err;
  }
  const catalog = new ModelCatalog(config);
  const classifier = createClassifier(config.classification);
  const policy = createPolicyEngine(config.policy, classifier.levels);
  const router = new Router(catalog, config.routing);
  const pipeline = new Pipeline(providers, new ClassifyStep(classifier), policy, router);
  const http = createHttpServer({ pipeline, logger, bodyLimitBytes: config.server.bodyLimitBytes });
  return {
    config,
    logger,
    http,
    pipeline,
    closeProviders: async () => {
      await Promise.allSettled([...providers.values()].map((p) => p.close()));
    },
  };
}
