/**
 * Time and randomness as injectable values, so breakers, queues, backoff and splits
 * can be tested with fake clocks and seeded generators instead of sleeping.
 */

/** Milliseconds on a monotonic scale (performance.now() in production). */
export type Clock = () => number;

/** A uniform number in [0, 1). */
export type Rng = () => number;

/** Waits ms, rejecting with the signal's reason if it aborts first. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** Just enough of setTimeout/clearTimeout for the capacity queue. */
export interface Timers {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const systemClock: Clock = () => performance.now();

export const systemTimers: Timers = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A queued request must not keep a draining process alive on its own.
    t.unref();
    return t;
  },
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export const systemSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * mulberry32: tiny, fast and good enough for traffic splitting. Seeded so tests
 * (and replays of a decision) get the same sequence.
 */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
