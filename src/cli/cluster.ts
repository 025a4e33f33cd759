import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { loadConfig, type LoadOverrides } from '../config/loader.js';
import { createLogger, type Logger } from '../telemetry/logger.js';

/**
 * `perimeter serve --workers N`: N gateway processes on one port.
 *
 * Node 20 has no `reusePort` listen option (it arrived in Node 22.12/23.1), so this
 * uses node:cluster: the primary owns the listening socket and hands accepted
 * connections to the workers round-robin. Each worker is a whole gateway, composed by
 * the ordinary `serve()` path (the worker re-runs this CLI with the same arguments), so
 * nothing in the request path knows it runs in a cluster. What the workers must share
 * (records, audit chain, keys, limits, vault) is shared through the configured stores;
 * see docs/scaling.md.
 */

export interface ClusterOptions {
  readonly workers: number;
  /** Crashed workers are restarted at most this many times within `restartWindowMs`; past that the cluster stops with exit 1. */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** Pause before a crashed worker is replaced, so a crash loop cannot spin the CPU. */
  readonly restartDelayMs?: number;
}

const DEFAULT_MAX_RESTARTS = 5;
const DEFAULT_RESTART_WINDOW_MS = 60_000;
const DEFAULT_RESTART_DELAY_MS = 500;
/** Past the workers' own drain deadline, the primary waits this much longer before killing them. */
const KILL_GRACE_MS = 5_000;

/** `--workers`: a positive integer, or `auto` for one per available CPU. Undefined when not given. */
export function parseWorkers(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RangeError(`--workers: expected an integer from 1 to 256 or "auto", got "${value}"`);
  return n;
}

/** Whether `serve` should run as a cluster primary rather than serve itself. */
export function isClusterPrimary(workers: number | undefined): workers is number {
  return workers !== undefined && workers > 1 && cluster.isPrimary;
}

/**
 * For `serve(...).catch(leaveClusterOnFailure)`: a worker whose start fails (port taken,
 * store down) would be kept alive by its IPC channel to the primary. It exits with 1
 * once the CLI has printed the error, so the primary sees the failure instead of waiting.
 */
export function leaveClusterOnFailure(err: unknown): never {
  if (cluster.isWorker) setImmediate(() => process.exit(1));
  throw err;
}

/** Sliding-window restart allowance: `take()` is true while fewer than `max` restarts happened in the window. */
export class RestartBudget {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  #times: number[] = [];

  constructor(max: number, windowMs: number, now: () => number = Date.now) {
    this.#max = max;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  take(): boolean {
    const now = this.#now();
    this.#times = this.#times.filter((t) => now - t < this.#windowMs);
    if (this.#times.length >= this.#max) return false;
    this.#times.push(now);
    return true;
  }
}

/**
 * Runs the cluster primary: validates the config once (so a bad file fails here, not
 * N times), forks the workers, forwards SIGTERM/SIGINT (as SIGTERM: each worker drains)
 * and SIGHUP (each worker reloads), and replaces crashed workers within a restart budget.
 * Resolves with the exit code once every worker is gone.
 */
export function serveCluster(configPath: string, overrides: LoadOverrides, options: ClusterOptions): Promise<number> {
  const { config } = loadConfig(configPath, overrides);
  const logger = createLogger(config.logging.level);
  return runPrimary(logger, config.server.drainTimeoutMs, options);
}

function runPrimary(logger: Logger, drainTimeoutMs: number, options: ClusterOptions): Promise<number> {
  const budget = new RestartBudget(options.maxRestarts ?? DEFAULT_MAX_RESTARTS, options.restartWindowMs ?? DEFAULT_RESTART_WINDOW_MS);
  const restartDelayMs = options.restartDelayMs ?? DEFAULT_RESTART_DELAY_MS;
  const listening = new Set<number>();
  let announced = false;
  let stopping = false;
  let exitCode = 0;
  let pendingForks = 0;

  return new Promise<number>((resolve) => {
    const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    const finishIfDone = (): void => {
      if (stopping && pendingForks === 0 && live().length === 0) resolve(exitCode);
    };
    const stop = (code: number, reason: string): void => {
      if (code !== 0) exitCode = code;
      if (stopping) return;
      stopping = true;
      logger.info({ reason, workers: live().length }, 'cluster stopping');
      for (const w of live()) w.process.kill('SIGTERM');
      // Workers cut their own streams at drainTimeoutMs; this only catches a stuck one.
      const killer = setTimeout(() => {
        for (const w of live()) {
          logger.error({ pid: w.process.pid }, 'worker did not drain in time; killing it');
          w.process.kill('SIGKILL');
        }
      }, drainTimeoutMs + KILL_GRACE_MS);
      killer.unref();
      finishIfDone();
    };

    cluster.on('listening', (worker, address) => {
      listening.add(worker.id);
      if (announced || listening.size < options.workers) return;
      announced = true;
      const host = address.address ?? '127.0.0.1';
      logger.info(
        { url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`, workers: live().map((w) => w.process.pid) },
        'perimeter cluster listening',
      );
    });
    cluster.on('exit', (worker, code, signal) => {
      const pid = worker.process.pid;
      const wasListening = listening.delete(worker.id);
      if (stopping) {
        if (code !== 0 && signal !== 'SIGTERM') exitCode = 1;
        finishIfDone();
        return;
      }
      // A worker that never listened hit a start-up fault (port taken, store down): restarting would only repeat it.
      if (!wasListening) {
        logger.error({ pid, code, signal }, 'worker failed to start; stopping the cluster');
        stop(1, 'worker start-up failure');
        return;
      }
      if (!budget.take()) {
        logger.error({ pid, code, signal }, 'worker crashed and the restart budget is spent; stopping the cluster');
        stop(1, 'restart budget spent');
        return;
      }
      logger.warn({ pid, code, signal }, 'worker exited unexpectedly; restarting it');
      pendingForks++;
      setTimeout(() => {
        pendingForks--;
        if (stopping) finishIfDone();
        else cluster.fork();
      }, restartDelayMs);
    });

    process.on('SIGTERM', () => stop(0, 'SIGTERM'));
    process.on('SIGINT', () => stop(0, 'SIGINT'));
    process.on('SIGHUP', () => {
      for (const w of live()) w.process.kill('SIGHUP');
    });
    for (let i = 0; i < options.workers; i++) cluster.fork();
  });
}
