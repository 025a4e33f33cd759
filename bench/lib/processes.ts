import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** user+system CPU seconds a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** user+system CPU seconds of one thread (`tid` = pid is the main thread, where JavaScript runs). */
export function threadCpuSeconds(pid: number, tid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** A process and all its live descendants (cluster workers, child processes), from /proc/<pid>/task/<tid>/children. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const queue = [root];
  // Bounded: a process tree on one machine is small; the cap guards against a /proc oddity looping.
  while (queue.length > 0 && out.length < 1024) {
    const pid = queue.shift() as number;
    out.push(pid);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue; // exited meanwhile
    }
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ')) {
          if (child.trim() !== '') queue.push(Number(child));
        }
      } catch {
        // thread or process gone
      }
    }
  }
  return out;
}

/** user+system CPU seconds of a process tree (live processes only). */
export function treeCpuSeconds(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + safe(() => cpuSeconds(pid)), 0);
}

/** Summed RSS of a process tree, MiB. */
export function treeRssMiB(root: number): number {
  return processTree(root).reduce((sum, pid) => sum + safe(() => rssMiB(pid)), 0);
}

function safe(read: () => number): number {
  try {
    const v = read();
    return Number.isFinite(v) ? v : 0;
  } catch {
    return 0;
  }
}

/** Resident set size in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match?.[1] === undefined ? NaN : Number(match[1]) / 1024;
}

/** Spawns a node process and resolves once its output matches `ready`. */
export function startProcess(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = process.env, cwd?: string): Promise<ChildProcess> {
  return startUntil(args, env, (out) => ready.test(out), false, cwd);
}

/** Spawns a node process and resolves once `url` answers 200 (polled, bounded by the 60 s start limit). */
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

function startUntil(args: string[], env: NodeJS.ProcessEnv, isReady: (out: string) => boolean, recheck = false, cwd?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env, ...(cwd === undefined ? {} : { cwd }) });
  return new Promise((resolve, reject) => {
    let out = '';
    // Generous: on a busy shared machine a gateway (or a cluster of them) can take a while to compose.
    const timer = setTimeout(() => reject(new Error(`not ready after 60 s: ${out.slice(-2000)}`)), 60_000);
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
  // A process that ignores SIGTERM past its drain deadline is killed, so the bench always ends.
  const killer = setTimeout(() => child.kill('SIGKILL'), 40_000);
  await exited;
  clearTimeout(killer);
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? NaN;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
