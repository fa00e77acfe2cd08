import { generate } from 'selfsigned';

export interface SimulatorCertificates {
  /** PEM of the CA that signed the server certificate: what a client passes as ca_file. */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A throw-away CA ("Nessus Certification Authority", as a real install has) and a server certificate
 * it signs for localhost / 127.0.0.1 / ::1, so verification with the CA file succeeds by host name.
 */
export async function generateCertificates(): Promise<SimulatorCertificates> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600 * 1000);
  const ca = await generate([{ name: 'commonName', value: 'Nessus Certification Authority' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { caPem: ca.cert, certPem: server.cert, keyPem: server.private };
}
