import { createHash } from 'node:crypto';
import type { ClassifierConfig } from '../classify/config.js';
import { buildLevelTable, resolveLevel } from '../classify/levels.js';
import type { Finding } from '../classify/types.js';
import type { ChatRequest } from '../domain/chat.js';
import { GatewayError } from '../domain/errors.js';
import type { ProtectConfig } from './config.js';
import { mapChatText } from './rewrite.js';
import { VaultConflictError, type Vault, type VaultScope, type VaultSession } from './vault/types.js';

/**
 * A new request in which the text of every finding is replaced by a typed placeholder
 * from the session. `findings` must come from classifying exactly this request
 * (chatSegments paths and offsets). Overlapping findings in one field are replaced
 * once: the longest span, then the highest score. Pure apart from the session.
 *
 * Fails closed: a finding whose path or offsets do not fit the request throws
 * (its value would otherwise go out unreplaced).
 */
export function pseudonymizeChat(request: ChatRequest, findings: readonly Finding[], vault: VaultSession): ChatRequest {
  const byPath = new Map<string, Finding[]>();
  for (const f of findings) {
    const list = byPath.get(f.path);
    if (list === undefined) byPath.set(f.path, [f]);
    else list.push(f);
  }
  if (byPath.size === 0) return request;
  const texts: string[] = [];
  mapChatText(request, (_path, text) => {
    texts.push(text);
    return text;
  });
  vault.avoid(texts);
  const seen = new Set<string>();
  const out = mapChatText(request, (path, text) => {
    const list = byPath.get(path);
    if (list === undefined) return text;
    seen.add(path);
    return path.endsWith('#numbers') ? replaceNumberTokens(text, list, vault) : replaceSpans(text, list, vault);
  });
  if (seen.size !== byPath.size) throw mismatch();
  return out;
}

function replaceSpans(text: string, findings: readonly Finding[], vault: VaultSession): string {
  for (const f of findings) if (!(f.start >= 0 && f.end <= text.length && f.start < f.end)) throw mismatch();
  const ranked = [...findings].sort((a, b) => b.end - b.start - (a.end - a.start) || b.score - a.score || a.start - b.start);
  const chosen: Finding[] = [];
  for (const f of ranked) if (!chosen.some((g) => g.start < f.end && f.start < g.end)) chosen.push(f);
  chosen.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const f of chosen) {
    out += text.slice(at, f.start) + vault.placeholderFor(f.entity, text.slice(f.start, f.end));
    at = f.end;
  }
  return out + text.slice(at);
}

/**
 * `#numbers` is the number literals of tool-call arguments joined by spaces: every
 * literal a finding touches is replaced whole (it becomes a JSON string), so a card
 * number written as `[4111, 1111, 1111, 1111]` has each part replaced and restored.
 */
function replaceNumberTokens(text: string, findings: readonly Finding[], vault: VaultSession): string {
  for (const f of findings) if (!(f.start >= 0 && f.end <= text.length && f.start < f.end)) throw mismatch();
  const tokens = text.split(' ');
  let start = 0;
  return tokens
    .map((tok) => {
      const end = start + tok.length;
      const hit = findings.find((f) => f.start < end && start < f.end);
      start = end + 1;
      return hit === undefined ? tok : vault.placeholderFor(hit.entity, tok);
    })
    .join(' ');
}

function mismatch(): GatewayError {
  return new GatewayError('pseudonymization_unavailable', 'Findings do not match the request being pseudonymised; the request was not sent.');
}

/**
 * The conversation a request belongs to, as an opaque hash (the raw header is client
 * input and never stored). From `x-perimeter-conversation` when given; otherwise from
 * the conversation's opening (system messages and the first user message), which every
 * later turn re-sends unchanged. `partition` (the principal or tenant id) keeps two
 * callers whose conversations open the same way apart. undefined: no user message yet.
 */
export function conversationKey(request: ChatRequest, header: string | undefined, partition = ''): string | undefined {
  const hash = (kind: string, body: string): string =>
    createHash('sha256').update(`${kind}\u0000${partition}\u0000${body}`, 'utf8').digest('hex');
  const given = header?.trim();
  if (given !== undefined && given !== '') return hash('header', given);
  const firstUser = request.messages.findIndex((m) => m.role === 'user');
  if (firstUser < 0) return undefined;
  const opening = request.messages.slice(0, firstUser + 1).map((m) => [m.role, m.name ?? null, m.content]);
  return hash('opening', JSON.stringify(opening));
}

/**
 * Which findings get pseudonymised: level at or above `minLevel`, plus `include`,
 * minus `exclude`, at or above `minScore`.
 */
export function createFindingFilter(config: ProtectConfig['pseudonymize'], classification: ClassifierConfig): (f: Finding) => boolean {
  const table = buildLevelTable(classification);
  const min = resolveLevel(config.minLevel, classification.levels);
  const include = new Set(config.include);
  const exclude = new Set(config.exclude);
  return (f) => {
    if (exclude.has(f.entity) || f.score < config.minScore) return false;
    return include.has(f.entity) || table.levelOf(f.entity) >= min;
  };
}

export interface ProtectedRequest {
  request: ChatRequest;
  /** Hand to the restorer (restoreResponse / restoreStream / StreamRestorer). */
  session: VaultSession;
}

/**
 * Open → pseudonymise → commit, retried when a concurrent turn of the same
 * conversation took one of the new placeholder ids. Resolves only once the mapping is
 * stored, so the caller may send the returned request; throws GatewayError
 * `pseudonymization_unavailable` otherwise.
 */
export async function protectRequest(
  vault: Vault,
  scope: VaultScope,
  request: ChatRequest,
  findings: readonly Finding[],
): Promise<ProtectedRequest> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const session = await vault.open(scope);
    const out = pseudonymizeChat(request, findings, session);
    try {
      await session.commit();
      return { request: out, session };
    } catch (err) {
      if (!(err instanceof VaultConflictError)) throw err;
    }
  }
  throw new GatewayError('pseudonymization_unavailable', 'Could not store placeholders: the conversation is being written concurrently.', {
    retryAfter: 1,
  });
}
