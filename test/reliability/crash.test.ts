import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { startSimulator, type SimulatorHandle } from '../../src/simulator/index.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { spawnGateway, until, type GatewayProcess } from './support.js';

const run = promisify(execFile);

function configYaml(simUrl: string, dir: string): string {
  return `server: { host: 127.0.0.1, port: 0, drainTimeoutMs: 2000 }
logging: { level: info }
auth: { required: false }
deployment: { id: crash-test }
# The default batching: a record waits up to a second in memory before its transaction; the journal covers that second.
records: { store: { kind: sqlite, path: ${join(dir, 'records.db')} }, queue: { flushIntervalMs: 1000, batchSize: 200, spillPath: ${join(dir, 'spill.jsonl')} } }
backends:
  - { id: onprem, tier: on-prem, region: eu, protocol: openai, baseUrl: '${simUrl}/v1', maxConcurrency: 256, models: [{ id: m }] }
`;
}

async function auditCli(args: readonly string[], configPath: string): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [cliPath, 'audit', ...args, '--config', configPath], { cwd: repoRoot });
    return { code: 0, stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '' };
  }
}

/** What a separate reader sees as committed: record ids, audit seq → hash, and the decisions' subjects. */
function readCommitted(dbPath: string, records: Set<string>, audit: Map<number, string>, decided = new Set<string>()): void {
  if (!existsSync(dbPath)) return;
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    for (const r of db.prepare('SELECT request_id FROM decision_records').all() as { request_id: string }[]) records.add(r.request_id);
    for (const r of db.prepare('SELECT seq, entry FROM audit_log').all() as { seq: number; entry: string }[]) {
      const e = JSON.parse(r.entry) as { hash: string; kind: string; subject: string | null };
      audit.set(r.seq, e.hash);
      if (e.kind === 'decision' && e.subject !== null) decided.add(e.subject);
    }
  } catch {
    // Tables not migrated yet.
  } finally {
    db.close();
  }
}

describe('crash durability (kill -9 under load, real process)', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let file: string;
  const children: GatewayProcess[] = [];

  before(async () => {
    sim = await startSimulator({ name: 'on-prem', record: false });
    dir = mkdtempSync(join(tmpdir(), 'perimeter-crash-'));
    file = join(dir, 'perimeter.yaml');
    writeFileSync(file, configYaml(sim.url, dir));
  });
  after(async () => {
    for (const c of children) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no acknowledged record or audit entry, nor the record of an answered request; the chain verifies after restart', async (t) => {
    const first = await spawnGateway(file);
    children.push(first);
    const dbPath = join(dir, 'records.db');
    const records = new Set<string>();
    const audit = new Map<number, string>();
    let stop = false;
    let sent = 0;
    const answered: { id: string; at: number }[] = [];
    // Bounded load: 12 workers, each stops at the kill or after 400 requests.
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < 400 && !stop; i++) {
        sent++;
        try {
          const id = `crash-${w}-${i}`;
          const res = await fetch(`${first.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-request-id': id },
            body: JSON.stringify({ model: 'm', stream: i % 2 === 0, messages: [{ role: 'user', content: `load ${w} ${i}` }] }),
          });
          const text = await res.text();
          if (res.status === 200 && (text.includes('[DONE]') || text.includes('"finish_reason":"stop"'))) answered.push({ id, at: Date.now() });
        } catch {
          return;
        }
      }
    };
    const load = Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
    // Observe what is committed while the load runs, then kill in the middle of it.
    assert.ok(
      await until(() => {
        readCommitted(dbPath, records, audit);
        return records.size >= 300 && audit.size >= 300;
      }, 400, 50),
      `records were committed under load (${records.size} records, ${audit.size} audit entries)`,
    );
    // Kill between two batch commits, so some answered requests' records are only in memory (and in the journal).
    await new Promise((r) => setTimeout(r, 500));
    readCommitted(dbPath, records, audit);
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    stop = true;
    const exit = await first.exited;
    assert.equal(exit.signal, 'SIGKILL');
    await load;
    // Answered at least 100 ms before the kill: its journal line was written long before (it is written as the response ends).
    const answeredBefore = answered.filter((a) => a.at < killedAt - 100).map((a) => a.id);
    t.diagnostic(
      `killed after ${sent} requests sent, ${answered.length} answered; ${records.size} records and ${audit.size} audit entries observed committed`,
    );

    const second = await spawnGateway(file);
    children.push(second);
    const ok = await fetch(`${second.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'after-restart' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'after restart' }] }),
    });
    assert.equal(ok.status, 200);
    await ok.text();
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exited, { code: 0, signal: null });

    const afterRecords = new Set<string>();
    const afterAudit = new Map<number, string>();
    const afterDecided = new Set<string>();
    readCommitted(dbPath, afterRecords, afterAudit, afterDecided);
    assert.deepEqual(answeredBefore.filter((id) => !afterRecords.has(id)), [], 'every answered request has its record');
    assert.deepEqual(answeredBefore.filter((id) => !afterDecided.has(id)), [], 'and its audit entry');
    // Startup named what it restored: exactly records that were not committed before the kill.
    const restored = second
      .output()
      .split('\n')
      .filter((l) => l.includes('records restored from the journal'))
      .flatMap((l) => (JSON.parse(l) as { restoredRecords: string[] }).restoredRecords);
    t.diagnostic(`journal recovery restored ${restored.length} records`);
    assert.ok(restored.length > 0, 'records that were only in memory at the kill came back from the journal');
    assert.deepEqual(restored.filter((id) => records.has(id)), [], 'nothing already committed is restored twice');
    assert.ok(restored.every((id) => afterRecords.has(id) && afterDecided.has(id)));
    assert.deepEqual([...records].filter((id) => !afterRecords.has(id)), [], 'every record observed committed before the kill is still there');
    assert.deepEqual(
      [...audit].filter(([seq, hash]) => afterAudit.get(seq) !== hash).map(([seq]) => seq),
      [],
      'every audit entry observed committed before the kill is still there, unchanged',
    );
    assert.ok(afterRecords.has('after-restart'));

    const verified = await auditCli(['verify'], file);
    assert.equal(verified.code, 0, verified.stdout);
    assert.match(verified.stdout, new RegExp(`audit chain verified: ${afterAudit.size} entries`));
    const maxSeq = Math.max(...audit.keys());
    const head = await auditCli(['verify', '--head', `${maxSeq}:${audit.get(maxSeq) ?? ''}`], file);
    assert.equal(head.code, 0, `the head observed before the kill is still in the chain: ${head.stdout}`);
  });

  it('a torn last WAL transaction is discarded whole: the chain verifies, and verify --head names the lost entry', async () => {
    const dbPath = join(dir, 'records.db');
    // A writer that dies right after its commit, leaving its transaction as the last frames of the WAL.
    const { stdout } = await run(process.execPath, [resolve(repoRoot, 'dist', 'test', 'reliability', 'append-and-die.js')], {
      env: { PATH: process.env.PATH ?? '', PERIMETER_APPEND_AND_DIE_DB: dbPath, PERIMETER_APPEND_AND_DIE_DEPLOYMENT: 'crash-test' },
    }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const probe = JSON.parse(stdout.trim()) as { seq: number; hash: string };
    assert.ok(probe.seq > 1);

    // Tear it the way a power cut mid-write would: the last WAL frame is cut in half.
    const wal = `${dbPath}-wal`;
    const bytes = readFileSync(wal);
    const pageSize = bytes.readUInt32BE(8);
    const frame = 24 + pageSize;
    const frames = Math.floor((bytes.length - 32) / frame);
    assert.ok(frames > 0, 'the WAL holds the dead writer’s frames');
    truncateSync(wal, 32 + (frames - 1) * frame + 24 + pageSize / 2);
    assert.ok(statSync(wal).size < bytes.length);

    const whole = await auditCli(['verify'], file);
    assert.equal(whole.code, 0, `the torn transaction is dropped whole; what remains is a valid chain: ${whole.stdout}`);
    assert.match(whole.stdout, new RegExp(`audit chain verified: ${probe.seq - 1} entries`));
    const named = await auditCli(['verify', '--head', `${probe.seq}:${probe.hash}`], file);
    assert.equal(named.code, 1);
    assert.match(named.stdout, new RegExp(`chain ends at seq ${probe.seq - 1} but the recorded head is seq ${probe.seq}`));
  });

  it('a torn last line in the spill file is named at startup and kept aside; the whole lines are replayed', async () => {
    const dbPath = join(dir, 'records.db');
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const body = (db.prepare(`SELECT body FROM decision_records WHERE request_id = 'after-restart'`).get() as { body: string }).body;
    db.close();
    const line = (id: string): string => JSON.stringify({ ...(JSON.parse(body) as object), requestId: id });
    const torn = line('spilled-torn').slice(0, 120);
    const spill = join(dir, 'spill.store.jsonl');
    writeFileSync(spill, `${line('spilled-1')}\n${line('spilled-2')}\n${torn}`);

    const third = await spawnGateway(file);
    children.push(third);
    assert.ok(await until(() => /spill file line is torn/.test(third.output()), 100, 50), third.output());
    const warning = third.output().split('\n').find((l) => l.includes('spill file line is torn')) ?? '';
    const logged = JSON.parse(warning) as { line: number; bytes: number; requestId: string };
    assert.deepEqual([logged.line, logged.bytes, logged.requestId], [3, Buffer.byteLength(torn), 'spilled-torn']);
    third.child.kill('SIGTERM');
    assert.deepEqual(await third.exited, { code: 0, signal: null });
    assert.equal(readFileSync(`${spill}.torn`, 'utf8'), `${torn}\n`);

    const ids = new Set<string>();
    readCommitted(dbPath, ids, new Map());
    assert.ok(ids.has('spilled-1') && ids.has('spilled-2'), 'the whole lines were replayed into the store');
    assert.ok(!ids.has('spilled-torn'));
  });
});
