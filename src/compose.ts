import { createClassifier } from './classify/classifier.js';
import type { LoadedConfig } from './config/loader.js';
import type { Config } from './config/schema.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { createIdentity, createLimiter, type Identity } from './identity/setup.js';
import { ClassifyStep } from './pipeline/classify-step.js';
import { Pipeline } from './pipeline/pipeline.js';
import { createPolicyEngine } from './policy/engine.js';
import { createInjectionGuard } from './protect/injection/guard.js';
import { OutputScanner } from './protect/output-scan.js';
import { createFindingFilter } from './protect/pseudonymize.js';
import { createVault } from './protect/vault/create-vault.js';
import type { Provider } from './providers/provider.js';
import { createProvider } from './providers/registry.js';
import { ModelCatalog } from './route/catalog.js';
import { Router } from './route/router.js';
import { createLogger, type Logger } from './telemetry/logger.js';

export interface Gateway {
  readonly config: Config;
  readonly logger: Logger;
  readonly http: HttpServer;
  readonly pipeline: Pipeline;
  readonly identity: Identity;
  /** Closes upstream pools and stores. Call after the HTTP server has drained. */
  closeResources(): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
}

/** The one place that constructs adapters and services. Nothing here listens yet. */
export async function compose(loaded: LoadedConfig, options: ComposeOptions = {}): Promise<Gateway> {
  const { config } = loaded;
  const logger = options.logger ?? createLogger(config.logging.level);
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.allSettled(closers.reverse().map((close) => close()));
  };
  try {
    const providers = new Map<string, Provider>();
    for (const backend of config.backends) {
      // Each backend sees only its own tier's secret source.
      const provider = createProvider(backend, loaded.secrets[backend.tier]);
      providers.set(backend.id, provider);
      closers.push(() => provider.close());
    }
    const setup = { env: loaded.gatewayEnv, tierSources: config.secrets };
    const identity = await createIdentity(config.auth, setup, (failure) => logger.warn({ auth: failure }, 'authentication failed'));
    closers.push(() => identity.close());
    const limits = await createLimiter(config.limits, setup, (event) =>
      logger.warn({ limits: event.type, ...('action' in event ? { action: event.action } : {}) }, 'usage limits'),
    );
    closers.push(() => limits.close());

    const catalog = new ModelCatalog(config);
    const classifier = createClassifier(config.classification);
    const policy = createPolicyEngine(config.policy, classifier.levels);
    const router = new Router(catalog, config.routing);
    // The vault lives on the on-prem side; its keys come from the on-prem secret source.
    const vault = createVault(config.protect.vault, (ref) => loaded.secrets['on-prem'].resolve(ref));
    closers.push(() => vault.close());
    const pipeline = new Pipeline({
      providers,
      classify: new ClassifyStep(classifier),
      policy,
      router,
      authorizer: identity.authorizer,
      limiter: limits.limiter,
      defaultMaxOutputTokens: config.limits.defaultMaxOutputTokens,
      vault,
      pseudonymizable: createFindingFilter(config.protect.pseudonymize, config.classification),
      output: new OutputScanner(classifier, config.protect.output),
      injection: createInjectionGuard(config.injection),
    });
    const http = createHttpServer({ pipeline, logger, authenticator: identity.authenticator, bodyLimitBytes: config.server.bodyLimitBytes });
    return { config, logger, http, pipeline, identity, closeResources: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
