/** Test-time certificates for the mock LLM and other local TLS servers (openssl CLI). */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A CA and a leaf for localhost/127.0.0.1 signed by it (rustls refuses a self-signed leaf): paths in dir. */
export function makeCaAndLeaf(dir: string): { ca: string; key: string; cert: string } {
  const f = (n: string) => path.join(dir, n);
  const sh = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=agentsight-test-ca', '-keyout', f('ca.key'),
    '-out', f('ca.pem'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('leaf.key'), '-out', f('leaf.csr')]);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  sh(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1',
    '-extfile', f('ext.cnf'), '-out', f('leaf.pem')]);
  return { ca: f('ca.pem'), key: f('leaf.key'), cert: f('leaf.pem') };
}
