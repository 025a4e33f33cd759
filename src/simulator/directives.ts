/**
 * Fault-injection directives embedded in the last user message as
 * [[sim:key=value]]. They travel inside ordinary prompt text, so a test can
 * steer an upstream failure end-to-end through the gateway without any side
 * channel.
 */
export interface Directives {
  status?: number;
  delayMs?: number;
  dropAfter?: number;
  stallAfter?: number;
  reply?: string;
}

export type DirectiveResult = { ok: true; directives: Directives } | { ok: false; message: string };

const MARKER = '[[sim:';
const NONE: DirectiveResult = { ok: true, directives: {} };
const NON_NEGATIVE_INTEGER = /^\d{1,9}$/;

export function parseDirectives(text: string): DirectiveResult {
  // Almost every request carries no directive; keep that path allocation-free.
  let at = text.indexOf(MARKER);
  if (at === -1) return NONE;
  const directives: Directives = {};
  while (at !== -1) {
    const end = text.indexOf(']]', at + MARKER.length);
    if (end === -1) return { ok: false, message: 'unterminated simulator directive (missing "]]")' };
    const body = text.slice(at + MARKER.length, end);
    const eq = body.indexOf('=');
    if (eq === -1) return { ok: false, message: `simulator directive needs key=value: ${body}` };
    const key = body.slice(0, eq).trim();
    const value = body.slice(eq + 1);
    if (key === 'reply') {
      directives.reply = value;
    } else if (key === 'reply_b64') {
      // Lets a test make the model say something its prompt does not contain literally
      // (e.g. a card number for output-scanning tests).
      directives.reply = Buffer.from(value.trim(), 'base64').toString('utf8');
    } else {
      const trimmed = value.trim();
      if (!NON_NEGATIVE_INTEGER.test(trimmed)) {
        return { ok: false, message: `simulator directive ${key} needs a non-negative integer, got: ${value}` };
      }
      const n = Number(trimmed);
      switch (key) {
        case 'status':
          if (n < 400 || n > 599) return { ok: false, message: `simulator directive status must be 400..599, got: ${n}` };
          directives.status = n;
          break;
        case 'delay_ms':
          directives.delayMs = n;
          break;
        case 'drop_after':
          directives.dropAfter = n;
          break;
        case 'stall_after':
          directives.stallAfter = n;
          break;
        default:
          return { ok: false, message: `unknown simulator directive: ${key}` };
      }
    }
    at = text.indexOf(MARKER, end + 2);
  }
  return { ok: true, directives };
}
