import { createClassifier } from './classify/classifier.js';
import { ConfigError, type LoadedConfig } from './config/loader.js';
import type { Config } from './config/schema.js';
import { createHttpServer, type HttpServer, type HttpServices } from './http/server.js';
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
import type { AuditLog } from './record/audit.js';
import { CostModel } from './record/cost.js';
import { createRecorder, startRetention } from './record/recorder.js';
import { RequestRecords } from './record/request-records.js';
import { loadTokenEstimator } from './record/tokens.js';
import { isVirtualModel } from './route/virtual.js';

/**
 * Everything built from one config: what a reload replaces as a whole. A request
 * keeps the services it started with, so a reload never changes a request midway.
 */
export interface Services extends HttpServices {
  readonly config: Config;
  readonly identity: Identity;
  close(): Promise<void>;
}

/** The services now serving; swapped atomically by reload. */
export class Live {
  current: Services;
  constructor(current: Services) {
    this.current = current;
  }
}

export interface ReloadResult {
  readonly ok: boolean;
  /** `path: reason` lines when the new config was refused; nothing changed then. */
  readonly problems: readonly string[];
  readonly policyVersion: string;
  /** Settings that need a restart to change (listen address, body limit). */
  readonly needsRestart: readonly string[];
}

export interface Gateway {
  /** The config the gateway started with; the live one is live.current.config. */
  readonly config: Config;
  readonly logger: Logger;
  readonly http: HttpServer;
  readonly live: Live;
  /** Re-reads the config file; a bad file changes nothing. */
  reload(): Promise<ReloadResult>;
  /** Closes upstream pools and stores of every generation. Call after the HTTP server has drained. */
  closeResources(): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
}

/** The one place that constructs adapters and services. Nothing here listens yet. */
export async function compose(loaded: LoadedConfig, options: ComposeOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(loaded.config.logging.level);
  const live = new Live(await composeServices(loaded, logger));
  const retired = new Set<Services>();
  const reload = async (): Promise<ReloadResult> => {
    const before = live.current;
    let next: LoadedConfig;
    try {
      next = loaded.reread();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { ok: false, problems: err.problems, policyVersion: before.pipeline.policyVersion, needsRestart: [] };
    }
    let services: Services;
    try {
      services = await composeServices(next, logger);
    } catch (err) {
      // A config that validates but cannot be built (a missing secret, a store that is down) changes nothing either.
      const reason = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0] ?? ''}` : 'could not build';
      return { ok: false, problems: [reason], policyVersion: before.pipeline.policyVersion, needsRestart: [] };
    }
    live.current = services;
    // In-flight requests keep the old services; they are closed once those have had time to finish.
    retired.add(before);
    const timer = setTimeout(() => {
      retired.delete(before);
      void before.close();
    }, next.config.server.drainTimeoutMs);
    timer.unref();
    const server = (c: Config): string => JSON.stringify([c.server.host, c.server.port, c.server.bodyLimitBytes, c.server.maxInFlight]);
    const needsRestart = server(before.config) === server(next.config) ? [] : ['server'];
    logger.info({ policyVersion: services.pipeline.policyVersion, needsRestart }, 'config reloaded');
    return { ok: true, problems: [], policyVersion: services.pipeline.policyVersion, needsRestart };
  };
  const { bodyLimitBytes, maxInFlight } = loaded.config.server;
  const http = createHttpServer({ live, logger, bodyLimitBytes, maxInFlight, reload });
  return {
    config: loaded.config,
    logger,
    http,
    live,
    reload,
    closeResources: async () => {
      await Promise.allSettled([live.current.close(), ...[...retired].map((s) => s.close())]);
    },
  };
}

async function composeServices(loaded: LoadedConfig, logger: Logger): Promise<Services> {
  const { config } = loaded;
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
    // The audit trail is opened with the records below; the hook reads it when it fires.
    let auditTrail: AuditLog | undefined;
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
      onSensitivityLowered: (ctx) => {
        void auditTrail?.append({ kind: 'decision', action: 'sensitivity.lower', actor: ctx.principal.id, subject: ctx.requestId, outcome: 'success' });
      },
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
    auditTrail = stores?.audit;
    recorder.replaySpilled();
    const stopRetention = stores === undefined ? () => undefined : startRetention(stores.records, config.records, logger);
    closers.push(async () => stopRetention());
    alerts.start();
    closers.push(async () => alerts.stop());
    const pricer = new CostModel(config.cost, catalog.entries);
    const records = new RequestRecords(
      recorder,
      {
        deploymentId: config.deployment.id,
        pricer,
        knownModel: (m) => isVirtualModel(m) || catalog.find(m) !== undefined,
        knownWorkload: (w) => w in config.policy.workloads,
        breakerState: (id) => router.health.breaker(id).state(),
      },
      await loadTokenEstimator(),
    );
    const loadedAt = new Date().toISOString();
    return {
      config,
      identity,
      pipeline,
      records,
      authenticator: identity.authenticator,
      authorizer: identity.authorizer,
      keys: identity.keys,
      audit: stores?.audit,
      metrics: () => metrics.render(),
      health: () => ({
        loadedAt,
        policyVersion: policy.version,
        backends: router.health.snapshot(),
        capacity: router.capacity.snapshot(),
        recordQueues: recorder.stats(),
      }),
      policy: () => ({ version: policy.version, levels: classifier.levels, policy: config.policy }),
      dashboard: {
        records: stores?.records,
        cost: pricer,
        policy,
        levels: classifier.levels,
        onPremThreshold: config.routing.onPremThreshold,
        backends: config.backends.map((b) => ({ id: b.id, tier: b.tier, region: b.region })),
        health: () => router.health.snapshot(),
        capacity: () => router.capacity.snapshot(),
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
