import { compose, type ComposeOptions, type Gateway } from './compose.js';
import { loadConfig, type LoadOverrides } from './config/loader.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Stops accepting, lets in-flight requests (streams included) finish up to the drain deadline, then closes. */
  shutdown(): Promise<void>;
}

/** After the drain deadline, how long ended requests get to flush their final bytes before sockets are cut. */
const EXPIRE_GRACE_MS = 1_000;

/** Starts a composed gateway listening on its configured address. */
export async function listen(gateway: Gateway): Promise<RunningGateway> {
  const { app } = gateway.http;
  const { host, port, drainTimeoutMs } = gateway.config.server;
  await app.listen({ host, port });
  await gateway.start();
  const address = app.server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      const { http } = gateway;
      http.setDraining();
      // At the deadline, open requests end with shutting_down (streams get a final error
      // event); a moment later whatever is still connected is cut so shutdown cannot hang.
      let cut: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        http.expire();
        cut = setTimeout(() => app.server.closeAllConnections(), EXPIRE_GRACE_MS);
      }, drainTimeoutMs);
      try {
        await app.close();
        // Stream handlers write their record after the socket closed; wait for those too (bounded by the timers above).
        await Promise.race([http.recorded(), sleep(drainTimeoutMs + 2 * EXPIRE_GRACE_MS)]);
      } finally {
        clearTimeout(deadline);
        clearTimeout(cut);
        // Flushes the record and audit queues: every admitted request's record is written before exit.
        await gateway.closeResources();
      }
    })();
    return closing;
  };
  return { gateway, url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`, shutdown };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Entry: load config → compose → serve; drain on SIGTERM/SIGINT. */
export async function serve(configPath: string, overrides: LoadOverrides = {}, options: ComposeOptions = {}): Promise<RunningGateway> {
  const loaded = loadConfig(configPath, overrides);
  const running = await listen(await compose(loaded, options));
  const { logger } = running.gateway;
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'draining');
    running.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: err instanceof Error ? err.name : 'unknown' }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // SIGHUP reloads config and policy; a bad file changes nothing and is logged.
  process.on('SIGHUP', () => {
    running.gateway.reload().then(
      (r) => (r.ok ? logger.info({ policyVersion: r.policyVersion }, 'reloaded on SIGHUP') : logger.error({ problems: r.problems }, 'reload refused')),
      (err: unknown) => logger.error({ err: err instanceof Error ? err.name : 'unknown' }, 'reload failed'),
    );
  });
  logger.info({ url: running.url, backends: running.gateway.config.backends.length }, 'perimeter listening');
  return running;
}
