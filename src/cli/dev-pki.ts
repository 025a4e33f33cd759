import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of one deployment's certificate: the same cert serves its peer listener and its calls to peers. */
export interface DeploymentCert {
  readonly cert: string;
  readonly key: string;
}

export interface DevPki {
  readonly dir: string;
  readonly ca: string;
  readonly deployments: Readonly<Record<string, DeploymentCert>>;
  /** A certificate for a deployment nobody configured, signed by the same CA. */
  readonly stranger: DeploymentCert;
  /** A CA that signed nothing the deployments trust, and a cert from it. */
  readonly rogue: DeploymentCert & { readonly ca: string };
}

/** Makes CAs and certificates in one directory with the openssl CLI. Short-lived, unencrypted keys: demos and tests only. */
export interface OpenSslPki {
  readonly dir: string;
  /** A self-signed CA: `<name>.crt` and `<name>.key`. */
  ca(name: string): string;
  /**
   * A certificate `<name>.crt`/`<name>.key` signed by CA `ca`, for 127.0.0.1/localhost.
   * `usage` is its extended key usage; `cn` defaults to the name.
   */
  issue(name: string, ca: string, usage: readonly ('serverAuth' | 'clientAuth')[], cn?: string): DeploymentCert;
}

export function openSslPki(dir: string, days = 7): OpenSslPki {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  return {
    dir,
    ca: (name) => {
      run('req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', String(days), '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
      return join(dir, `${name}.crt`);
    },
    issue: (name, ca, usage, cn = name) => {
      const san = usage.includes('serverAuth') ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : '';
      writeFileSync(join(dir, `${name}.ext`), `${san}extendedKeyUsage=${usage.join(',')}\n`);
      run('req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
      run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`,
        '-days', String(days), '-extfile', `${name}.ext`);
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
  };
}

/**
 * A throwaway CA and one certificate per deployment (CN = deployment id) for the
 * federation demo and tests; the same certificate serves a deployment's peer listener
 * and its calls to peers. Production certificates come from your own PKI.
 */
export function makeDevPki(dir: string, deploymentIds: readonly string[], days = 7): DevPki {
  const pki = openSslPki(dir, days);
  const both = ['serverAuth', 'clientAuth'] as const;
  const ca = pki.ca('federation-ca');
  const rogueCa = pki.ca('rogue-ca');
  const deployments: Record<string, DeploymentCert> = {};
  for (const id of deploymentIds) deployments[id] = pki.issue(id, 'federation-ca', both);
  return {
    dir,
    ca,
    deployments,
    stranger: pki.issue('stranger', 'federation-ca', both),
    rogue: { ...pki.issue('rogue', 'rogue-ca', both), ca: rogueCa },
  };
}
