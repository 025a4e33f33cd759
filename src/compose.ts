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
import { AlertEvaluator } from './telemetry/alerts.js';
import { createMetrics } from './telemetry/metrics.js';
import { resolveGatewaySecret } from './identity/gateway-secret.js';
import { CostModel } from './record/cost.js';
import { createRecorder, startRetention } from './record/recorder.js';
import { RequestRecords } from './record/request-records.js';
import { loadTokenEstimator } from './record/tokens.js';
import { isVirtualModel } from './route/virtual.js';

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
    // Records, metrics and alerts: off the hot path, behind the recorder's bounded queue.
    const tierOf = (id: string): string | undefined => config.backends.find((b) => b.id === id)?.tier;
    const metrics = createMetrics({
      health: () => router.health.snapshot(),
      capacity: () => router.capacity.snapshot(),
      tierOf,
      backends: config.backends.map((b) => b.id),
    });
    const resolveSecret = (ref: string): string => resolveGatewaySecret(ref, loaded.gatewayEnv, config.secrets).reveal();
    const alerts = new AlertEvaluator(config.alerts, {
      deploymentId: config.deployment.id,
      health: () => router.health.snapshot(),
      tierOf,
      onChange: (rule, backend, firing) => metrics.setAlert(rule, backend, firing),
      logger,
      ...(config.alerts.webhook?.authorization === undefined ? {} : { authorization: resolveSecret(config.alerts.webhook.authorization) }),
    });
    const { recorder, stores } = await createRecorder(config, {
      deploymentId: config.deployment.id,
      logger,
      resolveSecret,
      observers: [metrics, alerts],
      queueObserver: metrics,
    });
    closers.push(async () => {
      await recorder.close();
      if (!config.audit.decisions) await stores?.audit?.store.close();
    });
    recorder.replaySpilled();
    const stopRetention = stores === undefined ? () => undefined : startRetention(stores.records, config.records, logger);
    closers.push(async () => stopRetention());
    alerts.start();
    closers.push(async () => alerts.stop());
    const records = new RequestRecords(
      recorder,
      {
        deploymentId: config.deployment.id,
        pricer: new CostModel(config.cost, catalog.entries),
        knownModel: (m) => isVirtualModel(m) || catalog.find(m) !== undefined,
        knownWorkload: (w) => w in config.policy.workloads,
        breakerState: (id) => router.health.breaker(id).state(),
      },
      await loadTokenEstimator(),
    );
    const http = createHttpServer({
      pipeline,
      logger,
      authenticator: identity.authenticator,
      records,
      metrics: () => metrics.render(),
      bodyLimitBytes: config.server.bodyLimitBytes,
    });
    return { config, logger, http, pipeline, identity, closeResources: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
