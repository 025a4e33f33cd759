import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function testKey(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

/** A JWKS endpoint on loopback whose key set the test can change; counts fetches. */
export class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  status = 200;
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      this.fetches += 1;
      res.writeHead(this.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: this.keys }));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/jwks.json`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export interface SignOptions {
  issuer: string;
  audience: string | string[];
  subject?: string;
  expiresIn?: string | number;
  notBefore?: string | number;
  issuedAt?: number;
  claims?: JWTPayload;
}

export async function sign(key: TestKey, o: SignOptions): Promise<string> {
  let jwt = new SignJWT({ ...o.claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(o.issuer)
    .setAudience(o.audience)
    .setIssuedAt(o.issuedAt)
    .setExpirationTime(o.expiresIn ?? '5m');
  if (o.subject !== undefined) jwt = jwt.setSubject(o.subject);
  if (o.notBefore !== undefined) jwt = jwt.setNotBefore(o.notBefore);
  return jwt.sign(key.privateKey);
}
