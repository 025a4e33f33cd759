import type { Config } from '../config/schema.js';
import { GatewayError } from '../domain/errors.js';
import type { Capability, Tier } from '../domain/tier.js';

export type ModelKind = 'chat' | 'embedding';

/** One model as served by one backend. */
export interface CatalogEntry {
  readonly id: string;
  readonly kind: ModelKind;
  readonly upstream: string;
  readonly capability: Capability;
  readonly contextWindow: number;
  readonly price: { readonly inputPer1M: number; readonly outputPer1M: number };
  readonly backendId: string;
  readonly tier: Tier;
  readonly region: string;
  /** The backend's in-flight limit; only on-prem backends have one. */
  readonly maxConcurrency: number | undefined;
  /** Position in config order across all entries: the router's last tie-break. */
  readonly order: number;
}

/**
 * Every model every backend serves, indexed by the id clients send. The same id
 * may be served by several backends; they are kept in config order, which is the
 * order the router tries them in until a policy says otherwise.
 */
export class ModelCatalog {
  readonly entries: readonly CatalogEntry[];
  readonly #byId: ReadonlyMap<string, readonly CatalogEntry[]>;

  constructor(config: Config) {
    const entries: CatalogEntry[] = [];
    const byId = new Map<string, CatalogEntry[]>();
    for (const backend of config.backends) {
      for (const model of backend.models) {
        const entry: CatalogEntry = Object.freeze({
          id: model.id,
          kind: model.kind,
          upstream: model.upstream ?? model.id,
          capability: model.capability,
          contextWindow: model.contextWindow,
          price: model.price,
          backendId: backend.id,
          tier: backend.tier,
          region: backend.region,
          maxConcurrency: backend.maxConcurrency,
          order: entries.length,
        });
        entries.push(entry);
        const list = byId.get(model.id);
        if (list === undefined) byId.set(model.id, [entry]);
        else list.push(entry);
      }
    }
    this.entries = Object.freeze(entries);
    this.#byId = byId;
  }

  /** The backends that serve this model for this kind of call, or model_not_found. */
  candidates(modelId: string, kind: ModelKind): readonly CatalogEntry[] {
    const found = this.#byId.get(modelId);
    if (found === undefined) {
      throw new GatewayError('model_not_found', `The model '${modelId}' does not exist or you do not have access to it.`, { param: 'model' });
    }
    const ofKind = found.filter((e) => e.kind === kind);
    if (ofKind.length === 0) {
      const what = kind === 'chat' ? 'chat completions' : 'embeddings';
      throw new GatewayError('invalid_request', `The model '${modelId}' does not support ${what}.`, { param: 'model' });
    }
    return ofKind;
  }

  /** Every entry for this id, of any kind, in config order; undefined when unknown. Never throws. */
  find(modelId: string): readonly CatalogEntry[] | undefined {
    return this.#byId.get(modelId);
  }

  /** One entry per model id: the first backend serving it. */
  distinct(): CatalogEntry[] {
    return [...this.#byId.values()].map((list) => list[0]).filter((e): e is CatalogEntry => e !== undefined);
  }
}
