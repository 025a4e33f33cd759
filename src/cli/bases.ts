import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';

export interface BasesCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** From PERIMETER_API_KEY (read by main.ts, the CLI's edge). */
  readonly apiKey: string | undefined;
}

export const BASES_USAGE = `perimeter bases ingest --base ID [--url URL] [--title T] [--id DOC] <files...>   .txt .md .pdf
perimeter bases search [--url URL] [--base ID]... [--limit N] [--json] "<query>"
  The gateway's API key is read from PERIMETER_API_KEY; --url defaults to http://127.0.0.1:8080.`;

const MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.pdf': 'application/pdf',
};

class CliError extends Error {}

interface ApiError {
  error?: { code?: string; message?: string };
}

/** `perimeter bases …`: a client of a running gateway's /v1/bases API. Returns the exit code. */
export async function runBasesCli(args: readonly string[], io: BasesCliIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    if (sub === 'ingest') return await ingest(rest, io);
    if (sub === 'search') return await search(rest, io);
    throw new CliError(sub === undefined ? 'bases: name a subcommand' : `bases: unknown subcommand "${sub}"`);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr.write(`perimeter: ${err.message}\n\n${BASES_USAGE}\n`);
      return 1;
    }
    if (err instanceof TypeError && /fetch failed/.test(err.message)) {
      io.stderr.write('perimeter: cannot reach the gateway (is it running? see --url)\n');
      return 1;
    }
    throw err;
  }
}

async function ingest(args: readonly string[], io: BasesCliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { base: { type: 'string' }, url: { type: 'string' }, title: { type: 'string' }, id: { type: 'string' } },
  });
  if (values.base === undefined) throw new CliError('bases ingest: --base is required');
  if (positionals.length === 0) throw new CliError('bases ingest: name at least one file');
  if (positionals.length > 1 && (values.title !== undefined || values.id !== undefined)) throw new CliError('bases ingest: --title and --id apply to a single file');
  const key = apiKey(io);
  let failed = 0;
  for (const file of positionals) {
    const ext = extname(file).toLowerCase();
    const mediaType = MEDIA_TYPES[ext];
    if (mediaType === undefined) {
      io.stderr.write(`perimeter: ${file}: unsupported file type "${ext}" (use .txt, .md or .pdf)\n`);
      failed++;
      continue;
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      io.stderr.write(`perimeter: ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})\n`);
      failed++;
      continue;
    }
    const body = {
      title: values.title ?? basename(file, extname(file)),
      ...(values.id === undefined ? {} : { documentId: values.id }),
      mediaType,
      // The exact bytes, so the recorded sha256 is the file's own.
      contentBase64: bytes.toString('base64'),
      source: basename(file),
    };
    const res = await post(values.url, `/v1/bases/${encodeURIComponent(values.base)}/documents`, key, body);
    if (!res.ok) {
      io.stderr.write(`perimeter: ${file}: ${describe(res.status, res.json)}\n`);
      failed++;
      continue;
    }
    const d = res.json as { baseId: string; documentId: string; version: number; status: string; chunks: number; level: string; sha256: string };
    io.stdout.write(`${d.status} ${d.baseId}/${d.documentId} v${d.version} (${d.chunks} chunks, ${d.level}, sha256 ${d.sha256.slice(0, 12)}) ← ${file}\n`);
  }
  return failed === 0 ? 0 : 1;
}

async function search(args: readonly string[], io: BasesCliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { url: { type: 'string' }, base: { type: 'string', multiple: true }, limit: { type: 'string' }, json: { type: 'boolean' } },
  });
  const query = positionals.join(' ').trim();
  if (query === '') throw new CliError('bases search: give a query');
  const limit = values.limit === undefined ? 10 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) throw new CliError('bases search: --limit must be an integer from 1 to 50');
  const res = await post(values.url, '/v1/bases/search', apiKey(io), { query, limit, ...(values.base === undefined ? {} : { bases: values.base }) });
  if (!res.ok) {
    io.stderr.write(`perimeter: ${describe(res.status, res.json)}\n`);
    return 1;
  }
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify(res.json)}\n`);
    return 0;
  }
  const { hits } = res.json as { hits: { baseId: string; deploymentId: string; documentId: string; version: number; chunkIndex: number; title: string; score: number; snippet: string; withheld: boolean }[] };
  if (hits.length === 0) io.stdout.write('no hits\n');
  for (const h of hits) {
    io.stdout.write(`${h.score.toFixed(4)}  ${h.deploymentId}:${h.baseId}/${h.documentId} v${h.version} #${h.chunkIndex}  ${h.title}\n`);
    io.stdout.write(`    ${h.withheld ? '(snippet withheld: above the allowed level)' : h.snippet.replace(/\s+/g, ' ')}\n`);
  }
  return 0;
}

function apiKey(io: BasesCliIo): string {
  if (io.apiKey === undefined || io.apiKey === '') throw new CliError('set PERIMETER_API_KEY to the gateway API key');
  return io.apiKey;
}

async function post(url: string | undefined, path: string, key: string, body: unknown): Promise<{ ok: boolean; status: number; json: unknown }> {
  const base = (url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) throw new CliError('--url must be an http(s) URL');
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  return { ok: res.ok, status: res.status, json };
}

function describe(status: number, json: unknown): string {
  const e = (json as ApiError | undefined)?.error;
  return e?.code === undefined ? `HTTP ${status}` : `${e.code}: ${e.message ?? ''}`;
}
