import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { z } from 'zod';

/**
 * A development OpenID issuer for the demo and the federation tests: it publishes a
 * JWKS and signs tokens for whatever subject and groups it is asked for. It has no
 * login at all, so it binds to loopback only and must never stand in for a real IdP.
 */
export interface DevIssuerHandle {
  /** The `iss` value, also the base URL. */
  readonly issuer: string;
  readonly jwksUrl: string;
  readonly audience: string;
  /** Signs a token directly, without HTTP. */
  token(request: TokenRequest): Promise<string>;
  close(): Promise<void>;
}

const tokenRequest = z.strictObject({
  sub: z.string().min(1).max(200),
  groups: z.array(z.string().min(1).max(200)).max(100).default([]),
  roles: z.array(z.string().min(1).max(200)).max(100).optional(),
  expiresInSeconds: z.number().int().positive().max(86_400).default(3_600),
});

export type TokenRequest = z.input<typeof tokenRequest>;

export interface DevIssuerOptions {
  port?: number;
  audience?: string;
}

export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuerHandle> {
  const kid = 'perimeter-dev-1';
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const audience = options.audience ?? 'perimeter';
  let issuer = '';
  const sign = (key: CryptoKey, input: TokenRequest): Promise<string> => {
    const t = tokenRequest.parse(input);
    return new SignJWT({ groups: t.groups, ...(t.roles === undefined ? {} : { roles: t.roles }) })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(t.sub)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + t.expiresInSeconds)
      .sign(key);
  };
  const server: Server = createServer((req, res) => {
    void handle(req).then(
      ({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"internal"}');
      },
    );
  });
  const handle = async (req: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/jwks.json') return { status: 200, body: { keys: [jwk] } };
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return { status: 200, body: { issuer, jwks_uri: `${issuer}/jwks.json`, token_endpoint: `${issuer}/token` } };
    }
    if (req.method === 'POST' && path === '/token') {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > 16_384) return { status: 413, body: { error: 'too_large' } };
        chunks.push(chunk as Buffer);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return { status: 400, body: { error: 'invalid_json' } };
      }
      const result = tokenRequest.safeParse(parsed);
      if (!result.success) return { status: 400, body: { error: 'invalid_request', detail: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) } };
      return { status: 200, body: { access_token: await sign(privateKey, result.data), token_type: 'Bearer', expires_in: result.data.expiresInSeconds } };
    }
    return { status: 404, body: { error: 'not_found' } };
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks.json`,
    audience,
    token: (request) => sign(privateKey, request),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
