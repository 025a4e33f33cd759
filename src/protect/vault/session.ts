import { GatewayError } from '../../domain/errors.js';
import { DEFAULT_FORMAT, chooseFormat, entityTag, parseId, render, type PlaceholderFormat } from '../placeholders.js';
import { VaultConflictError, type StoredEntry, type VaultScope, type VaultSession } from './types.js';

/** Writes a session's new entries; supplied by each vault backend. */
export type PersistFn = (entries: ReadonlyArray<{ id: string; value: string }>) => Promise<void>;

/**
 * The mapping logic all vaults share; backends differ only in how entries are loaded
 * and persisted.
 */
export class MappingSession implements VaultSession {
  readonly scope: VaultScope;
  #format: PlaceholderFormat = DEFAULT_FORMAT;
  #frozen = false;
  readonly #idByValue = new Map<string, string>();
  readonly #valueById = new Map<string, string>();
  /** Highest counter per entity tag, including ids whose value could not be decrypted (they stay reserved). */
  readonly #counters = new Map<string, number>();
  readonly #fresh: Array<{ id: string; value: string }> = [];
  readonly #issued = new Map<string, string>();
  readonly #persist: PersistFn | undefined;

  constructor(scope: VaultScope, known: readonly StoredEntry[], persist: PersistFn | undefined) {
    this.scope = scope;
    this.#persist = persist;
    // Sorted so that, if a race stored one value under two ids, the lower id wins on every load.
    const sorted = [...known].sort((a, b) => compareIds(a.id, b.id));
    for (const e of sorted) {
      const parsed = parseId(e.id);
      if (parsed === undefined) continue;
      this.#counters.set(parsed.tag, Math.max(this.#counters.get(parsed.tag) ?? 0, parsed.n));
      if (e.value === undefined) continue;
      this.#valueById.set(e.id, e.value);
      if (!this.#idByValue.has(e.value)) this.#idByValue.set(e.value, e.id);
    }
  }

  get format(): PlaceholderFormat {
    return this.#format;
  }

  avoid(texts: readonly string[]): void {
    const format = chooseFormat(texts);
    if (this.#frozen && (format.open !== this.#format.open || format.close !== this.#format.close)) {
      // Placeholders already issued in the old format would become ambiguous.
      throw new Error('vault session: avoid() after placeholders were issued');
    }
    this.#format = format;
  }

  placeholderFor(entity: string, value: string): string {
    this.#frozen = true;
    let id = this.#idByValue.get(value);
    if (id === undefined) {
      const tag = entityTag(entity);
      const n = (this.#counters.get(tag) ?? 0) + 1;
      this.#counters.set(tag, n);
      id = `${tag}_${n}`;
      this.#idByValue.set(value, id);
      this.#valueById.set(id, value);
      this.#fresh.push({ id, value });
    }
    const placeholder = render(this.#format, id);
    this.#issued.set(placeholder, value);
    return placeholder;
  }

  lookup(placeholder: string): string | undefined {
    return this.#issued.get(placeholder);
  }

  issued(): ReadonlyMap<string, string> {
    return this.#issued;
  }

  async commit(): Promise<void> {
    if (this.#persist === undefined || this.#fresh.length === 0) return;
    const batch = this.#fresh.splice(0);
    try {
      await this.#persist(batch);
    } catch (err) {
      if (err instanceof VaultConflictError || err instanceof GatewayError) throw err;
      throw unavailable(err);
    }
  }
}

/** The one error a vault failure becomes: 503, and never a value in the message. */
export function unavailable(cause: unknown): GatewayError {
  const name = cause instanceof Error ? cause.name : typeof cause;
  return new GatewayError('pseudonymization_unavailable', `The pseudonymisation vault is unavailable (${name}); the request was not sent.`, {
    retryable: false,
    retryAfter: 1,
  });
}

function compareIds(a: string, b: string): number {
  const pa = parseId(a);
  const pb = parseId(b);
  if (pa === undefined || pb === undefined || pa.tag !== pb.tag) return a < b ? -1 : a > b ? 1 : 0;
  return pa.n - pb.n;
}
