import type { Config } from '../config/schema.js';
import { startSimulator, type SimulatorHandle, type SimulatorOptions } from '../simulator/index.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Starts one simulator per loopback host:port that the config's backends point at,
 * serving exactly the models those backends list. Non-loopback backends are left
 * alone: the simulator only ever stands in on this machine.
 */
export async function simulateConfigBackends(config: Config, tuning: Partial<SimulatorOptions> = {}): Promise<SimulatorHandle[]> {
  const byPort = new Map<number, { name: string; chat: Set<string>; embedding: Set<string> }>();
  for (const backend of config.backends) {
    const url = new URL(backend.baseUrl);
    if (!LOOPBACK.has(url.hostname)) continue;
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    if (url.protocol !== 'http:') throw new Error(`backend ${backend.id}: the simulator serves plain http only`);
    let entry = byPort.get(port);
    if (entry === undefined) {
      entry = { name: backend.tier, chat: new Set(), embedding: new Set() };
      byPort.set(port, entry);
    }
    for (const m of backend.models) (m.kind === 'chat' ? entry.chat : entry.embedding).add(m.upstream ?? m.id);
  }
  const started: SimulatorHandle[] = [];
  try {
    for (const [port, entry] of byPort) {
      started.push(
        await startSimulator({
          ...tuning,
          host: '127.0.0.1',
          port,
          name: entry.name,
          chatModels: [...entry.chat],
          embeddingModels: [...entry.embedding],
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  return started;
}
