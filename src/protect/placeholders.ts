/**
 * Placeholder naming. A placeholder id is `ENTITY_N` (e.g. `PERSON_1`); it is rendered
 * between delimiters chosen per request so that no placeholder can equal text the
 * client wrote itself (see chooseFormat).
 */

export interface PlaceholderFormat {
  readonly open: string;
  readonly close: string;
}

const ID_BODY = '[A-Z][A-Z0-9_]*_[0-9]+';

/** The delimiters tried in order; the first whose placeholder shape does not occur in the request wins. */
const FORMATS: readonly PlaceholderFormat[] = [
  { open: '<', close: '>' },
  { open: '{{', close: '}}' },
  { open: '[[', close: ']]' },
];

export const DEFAULT_FORMAT: PlaceholderFormat = FORMATS[0]!;

export function render(format: PlaceholderFormat, id: string): string {
  return `${format.open}${id}${format.close}`;
}

/** Matches every string of the placeholder shape in `format`, issued or not. */
export function shapePattern(format: PlaceholderFormat, flags = 'g'): RegExp {
  return new RegExp(`${escapeRegex(format.open)}${ID_BODY}${escapeRegex(format.close)}`, flags);
}

/**
 * The first format none of whose possible placeholders occurs in any of the texts.
 * Checking the whole shape, not just the ids issued so far, keeps the choice
 * independent of the counters, so a conversation's later turns (with ids from the
 * vault) cannot collide either. Deterministic: depends only on the texts. If the
 * fixed list is exhausted (adversarial input), `<<…>>` with ever more angle brackets
 * is tried; a finite text cannot contain all of them.
 */
export function chooseFormat(texts: readonly string[]): PlaceholderFormat {
  const occurs = (f: PlaceholderFormat): boolean => {
    const re = shapePattern(f, '');
    return texts.some((t) => t.includes(f.open) && re.test(t));
  };
  for (const f of FORMATS) if (!occurs(f)) return f;
  for (let k = 2; ; k++) {
    const f = { open: '<'.repeat(k), close: '>'.repeat(k) };
    if (!occurs(f)) return f;
  }
}

/** `ENTITY` part of an id: entity names are config-validated, but a custom one must not break the shape. */
export function entityTag(entity: string): string {
  const tag = entity.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[A-Z]/.test(tag) ? tag : `X${tag}`;
}

/** The counter of an id, or undefined when it is not of the form ENTITY_N. */
export function parseId(id: string): { tag: string; n: number } | undefined {
  const m = /^([A-Z][A-Z0-9_]*)_([0-9]+)$/.exec(id);
  if (m === null) return undefined;
  return { tag: m[1]!, n: Number(m[2]) };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
