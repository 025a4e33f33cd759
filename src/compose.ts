import { GatewayError } from './domain/errors.js';
import type { JsonValue } from './domain/json.js';
import { createFederation, type Federation } from './federation/peers/index.js';
import { createBundles } from './federation/bundles/setup.js';
import { bundleOverlay } from './federation/bundles/format.js';
import type { BundleStatus, BundleSubscriber } from './federation/bundles/subscriber.js';
import { createClassifier } from './classify/classifier.js';
import { ConfigError, type ConfigOverlay, type LoadedConfig } from './config/loader.js';
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
import { embedThroughGateway } from './federation/bases/embed.js';
import { LocalBases } from './federation/bases/local-bases.js';
import { FederatedBases, PeerMoveTransport } from './federation/federated-bases.js';
import { basesRetrievalSource } from './federation/retrieval-source.js';
import { fetchPeerModels } from './federation/peer-models.js';
import { openBaseStore } from './federation/bases/open-store.js';

/**
 * Everything built from one config: what a reload replaces as a whole. A request
 * keeps the services it started with, so a reload never changes a request midway.
 */
export interface Services extends HttpServices {
  readonly config: Config;
  readonly bases: FederatedBases | undefined;
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
  /** Re-reads the config file, keeping the overlay last applied; a bad file changes nothing. */
  reload(): Promise<ReloadResult>;
  /**
   * Puts `overlay` (a verified bundle's sections) in place of the same parts of the
   * config the gateway runs with, validates the whole, builds and swaps it. All or
   * nothing: a merged config that does not validate or build changes nothing. Later
   * reloads keep it.
   */
  applyOverlay(overlay: ConfigOverlay): Promise<ReloadResult>;
  /** The peer transport; inert when `federation:` configures no listener and no peers. */
  readonly federation: Federation;
  /** Set when this deployment subscribes to bundles: pull() applies the source's latest now. */
  readonly bundleSubscriber: BundleSubscriber | undefined;
  /** The bundle subscriber's state, when this deployment subscribes. */
  bundles(): BundleStatus | undefined;
  /** Starts what listens or polls besides the HTTP server: the peer listener, peer pings, bundle pulls. */
  start(): Promise<void>;
  /** Closes upstream pools and stores of every generation. Call after the HTTP server has drained. */
  closeResources(): Promise<void>;
}

export interface ComposeOptions {
  logger?: Logger;
  /** Where the bundle subscriber pulls from; defaults to the `from` peer's `bundles.pull` over mTLS. */
  bundleSource?: () => Promise<unknown>;
}

/** The one place that constructs adapters and services. Nothing here listens yet. */
export async function compose(loaded: LoadedConfig, options: ComposeOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(loaded.config.logging.level);
  const start = loaded.config;
  if (start.federation.peers.length > 0 && !start.audit.enabled) {
    throw new ConfigError(loaded.path, ['federation.peers: federation needs the audit trail (audit.enabled: true): every peer call is audited on both sides']);
  }
  const resolveSecret = (ref: string): string => resolveGatewaySecret(ref, loaded.gatewayEnv, start.secrets).reveal();
  // Federation lives across reloads: its listener binds once. It reads the serving generation when called.
  let current: Live | undefined;
  const serving = (): Services => {
    if (current === undefined) throw new GatewayError('peer_unavailable', 'The gateway is starting.');
    return current.current;
  };
  const federation = createFederation(start.federation, {
    deploymentId: start.deployment.id,
    zone: start.deployment.zone,
    authenticate: (headers) => serving().authenticator.authenticate(headers),
    audit: {
      append: (event) => {
        const audit = serving().audit;
        if (audit === undefined) throw new Error('the audit trail is not enabled');
        return audit.append(event);
      },
    },
    logger,
    resolveSecret,
  });
  // The subscriber is made after the first generation; health reads it when asked.
  let subscriberRef: { status(): BundleStatus } | undefined;
  const bundleStatus = (): BundleStatus | undefined => subscriberRef?.status();
  const live = new Live(await composeServices(loaded, logger, federation, bundleStatus));
  current = live;
  for (const operation of ['bases.list', 'bases.search', 'bases.retrieve', 'bases.move'] as const) {
    federation.handle(operation, (call) => {
      const handler = serving().bases?.peerHandlers()[operation];
      if (handler === undefined) throw new GatewayError('not_found', 'This deployment has no Bases.');
      return handler(call);
    });
  }
  federation.handle('models', async (call) => {
    if (call.principal === undefined) throw new GatewayError('authentication_failed', 'Listing models runs as an end user.');
    const models = serving().pipeline.models(call.principal, undefined);
    return {
      body: { models: models.map((m) => ({ id: m.id, kind: m.kind, capability: m.capability, tier: m.tier, region: m.region, contextWindow: m.contextWindow })) },
      audit: { models: models.length },
    };
  });
  const retired = new Set<Services>();
  // What the next reload re-reads: the file, with the overlay last applied.
  let base = loaded;
  const swap = async (read: () => LoadedConfig, what: string): Promise<ReloadResult> => {
    const before = live.current;
    let next: LoadedConfig;
    try {
      next = read();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { ok: false, problems: err.problems, policyVersion: before.pipeline.policyVersion, needsRestart: [] };
    }
    let services: Services;
    try {
      services = await composeServices(next, logger, federation, bundleStatus);
    } catch (err) {
      // A config that validates but cannot be built (a missing secret, a store that is down) changes nothing either.
      const reason = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0] ?? ''}` : 'could not build';
      return { ok: false, problems: [reason], policyVersion: before.pipeline.policyVersion, needsRestart: [] };
    }
    live.current = services;
    base = next;
    // In-flight requests keep the old services; they are closed once those have had time to finish.
    retired.add(before);
    const timer = setTimeout(() => {
      retired.delete(before);
      void before.close();
    }, next.config.server.drainTimeoutMs);
    timer.unref();
    const server = (c: Config): string => JSON.stringify([c.server.host, c.server.port, c.server.bodyLimitBytes, c.server.maxInFlight]);
    const needsRestart = server(before.config) === server(next.config) ? [] : ['server'];
    logger.info({ policyVersion: services.pipeline.policyVersion, needsRestart }, what);
    return { ok: true, problems: [], policyVersion: services.pipeline.policyVersion, needsRestart };
  };
  // One swap at a time, so a reload and an overlay never build from the same base and lose one another.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = (read: () => LoadedConfig, what: string): Promise<ReloadResult> => {
    const run = queue.then(() => swap(read, what));
    queue = run.catch(() => undefined);
    return run;
  };
  const reload = (): Promise<ReloadResult> => serialized(() => base.reread(), 'config reloaded');
  const applyOverlay = (overlay: ConfigOverlay): Promise<ReloadResult> => serialized(() => base.withOverlay(overlay), 'config overlay applied');
  const subscribeFrom = start.bundles.subscribe?.from;
  const bundles = createBundles(start.bundles, {
    deploymentId: start.deployment.id,
    resolveSecret,
    source: () => live.current.config,
    fetch:
      options.bundleSource ??
      (async () => {
        if (subscribeFrom === undefined) throw new Error('no bundle source');
        const result = await federation.client.call(subscribeFrom, 'bundles.pull', {}, { actor: 'system' });
        if (!result.ok) throw new Error(`peer ${subscribeFrom} answered ${result.status} (${result.code})`);
        return result.body;
      }),
    apply: (content) => applyOverlay(bundleOverlay(content)),
    append: async (event) => live.current.audit?.append(event),
    logger,
  });
  const { publisher, subscriber } = bundles;
  subscriberRef = subscriber;
  if (publisher !== undefined) {
    federation.handle('bundles.pull', async () => {
      const bundle = await publisher.handlePull();
      return { body: bundle as unknown as JsonValue, audit: { version: bundle.version } };
    });
  }
  // The last verified bundle is back in force before the first request is served.
  await subscriber?.restore();
  const { bodyLimitBytes, maxInFlight } = loaded.config.server;
  const http = createHttpServer({ live, logger, bodyLimitBytes, maxInFlight, reload });
  return {
    config: loaded.config,
    logger,
    http,
    live,
    reload,
    applyOverlay,
    federation,
    bundleSubscriber: subscriber,
    bundles: () => subscriber?.status(),
    start: async () => {
      await federation.start();
      subscriber?.start();
    },
    closeResources: async () => {
      await subscriber?.stop();
      await federation.close();
      await Promise.allSettled([live.current.close(), ...[...retired].map((s) => s.close())]);
    },
  };
}

async function composeServices(loaded: LoadedConfig, logger: Logger, federation: Federation, bundleStatus: () => BundleStatus | undefined): Promise<Services> {
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
    // Bases are reachable when some are homed here or a peer lets us search or retrieve from its own.
    const reachesBases =
      config.bases.definitions.length > 0 || (['bases.list', 'bases.search', 'bases.retrieve'] as const).some((op) => federation.client.peersFor(op).length > 0);
    const transport = new PeerMoveTransport(federation);
    let federatedBases: FederatedBases | undefined;
    const peerZones = new Map(config.federation.peers.map((p) => [p.id, p.zone]));
    const retrieval = reachesBases
      ? {
          source: basesRetrievalSource(
            () => {
              if (federatedBases === undefined) throw new GatewayError('base_not_found', 'Bases are not ready.');
              return federatedBases;
            },
            config.deployment,
            (id) => peerZones.get(id),
          ),
          settings: { workloadBases: config.bases.rag.workloads, maxChunks: config.bases.rag.maxChunks },
        }
      : undefined;
    const pipeline = new Pipeline({
      retrieval,
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
      classifierCache: () => classifier.cacheStats(),
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
    // Bases homed here; no store is opened (no file created) when none are defined.
    let local: LocalBases | undefined;
    if (config.bases.definitions.length > 0) {
      const store = await openBaseStore(config.bases.store, resolveSecret);
      closers.push(() => store.close());
      const embedModel = config.bases.embeddings?.model;
      local = new LocalBases({
        // Without a peer that accepts moves, approving one is refused (not_implemented) rather than failing later.
        transport: federation.client.peersFor('bases.move').length > 0 ? transport : undefined,
        deployment: config.deployment,
        config: config.bases,
        store,
        authorizer: identity.authorizer,
        classifier,
        classification: config.classification,
        audit: stores?.audit,
        embed: embedModel === undefined ? undefined : embedThroughGateway(pipeline, records, embedModel),
      });
    }
    if (reachesBases) {
      federatedBases = new FederatedBases({
        deploymentId: config.deployment.id,
        zone: config.deployment.zone,
        local,
        localIds: new Set(config.bases.definitions.map((d) => d.id)),
        transport,
        federation,
        // Fail closed: a query the classifier cannot judge counts as the highest level (it stays on-prem).
        queryLevel: (text) => {
          try {
            return classifier.classify(text, 'query').level;
          } catch {
            return classifier.levels[classifier.levels.length - 1] ?? 'regulated';
          }
        },
        levels: classifier.levels,
        maxQueryLevelToCloud: config.bases.federation.maxQueryLevelToCloud,
        deadlineMs: config.bases.federation.deadlineMs,
        snippetChars: config.bases.snippetChars,
      });
    }
    const bases = federatedBases;
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
      bases,
      deploymentId: config.deployment.id,
      peerModels: (who) => fetchPeerModels(federation, who, config.bases.federation.deadlineMs),
      metrics: () => metrics.render(),
      health: () => ({
        loadedAt,
        policyVersion: policy.version,
        backends: router.health.snapshot(),
        capacity: router.capacity.snapshot(),
        recordQueues: recorder.stats(),
        deployment: config.deployment,
        peers: federation.directory.snapshot(),
        bundles: bundleStatus(),
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
