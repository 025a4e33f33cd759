/**
 * Tiny narrowing helpers for upstream JSON. Upstream bodies are untrusted shapes, but a
 * schema library per response would cost more CPU than the rest of the call, so the
 * mappers read fields through these instead.
 */
export type WireObject = { readonly [key: string]: unknown };

export function isObject(value: unknown): value is WireObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function objectAt(obj: WireObject, key: string): WireObject | undefined {
  const value = obj[key];
  return isObject(value) ? value : undefined;
}

export function stringAt(obj: WireObject, key: string): string | undefined {
  const value = obj[key];
  return typeof value === 'string' ? value : undefined;
}

export function numberAt(obj: WireObject, key: string): number | undefined {
  const value = obj[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function arrayAt(obj: WireObject, key: string): readonly unknown[] | undefined {
  const value = obj[key];
  return Array.isArray(value) ? value : undefined;
}

/** JSON.parse that reports failure as undefined instead of throwing, for upstream text. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
