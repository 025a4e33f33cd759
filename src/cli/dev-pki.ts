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

/**
 * A throwaway CA and one certificate per deployment (CN = deployment id), made with the
 * openssl CLI for the federation demo and tests. Short-lived and unencrypted: never use
 * these outside a demo. Production certificates come from your own PKI.
 */
export function makeDevPki(dir: string, deploymentIds: readonly string[], days = 7): DevPki {
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string): void => {
    run('req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', String(days), '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  const issue = (name: string, ca: string): DeploymentCert => {
    writeFileSync(join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    run('req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`,
      '-days', String(days), '-extfile', `${name}.ext`);
    return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  };
  makeCa('federation-ca');
  makeCa('rogue-ca');
  const deployments: Record<string, DeploymentCert> = {};
  for (const id of deploymentIds) deployments[id] = issue(id, 'federation-ca');
  return {
    dir,
    ca: join(dir, 'federation-ca.crt'),
    deployments,
    stranger: issue('stranger', 'federation-ca'),
    rogue: { ...issue('rogue', 'rogue-ca'), ca: join(dir, 'rogue-ca.crt') },
  };
}
