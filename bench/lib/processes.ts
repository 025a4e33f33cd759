import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** user+system CPU seconds a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Resident set size in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match?.[1] === undefined ? NaN : Number(match[1]) / 1024;
}

/** Spawns a node process and resolves once its output matches `ready`. */
export function startProcess(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  return startUntil(args, env, (out) => ready.test(out));
}

/** Spawns a node process and resolves once `url` answers 200 (polled, bounded by the 20 s start limit). */
export async function startServing(args: string[], url: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  let up = false;
  const poll = setInterval(() => {
    fetch(url).then(
      (r) => {
        up = r.ok;
      },
      () => undefined,
    );
  }, 100);
  try {
    return await startUntil(args, env, () => up, true);
  } finally {
    clearInterval(poll);
  }
}

function startUntil(args: string[], env: NodeJS.ProcessEnv, isReady: (out: string) => boolean, recheck = false): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not ready after 20 s: ${out}`)), 20_000);
    const check = (): void => {
      if (!isReady(out)) return;
      clearTimeout(timer);
      clearInterval(ticker);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      resolve(child);
    };
    const onData = (d: Buffer): void => {
      out += d.toString();
      check();
    };
    const ticker = setInterval(() => recheck && check(), 50);
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(ticker);
      reject(new Error(`exited with ${String(code)}: ${out}`));
    });
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
