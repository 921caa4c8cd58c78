import t from 'tap';
import { belongsToOtherKey, caBundleProblem, certificateProblem, tlsKeyProblem } from '../../src/config/pem.ts';
import { generateTestKey, selfSignedCertificate } from '../helpers/keys.ts';

t.test('certificateProblem and belongsToOtherKey', async (t) => {
  const key = generateTestKey('ec');
  const certificate = selfSignedCertificate(key);
  t.equal(certificateProblem(certificate), undefined);
  t.match(certificateProblem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /not a readable PEM certificate/);
  t.equal(belongsToOtherKey(certificate, key.privateKeyPem), false, 'the certificate of this key');
  t.equal(belongsToOtherKey(selfSignedCertificate(generateTestKey('ec')), key.privateKeyPem), true);
  t.equal(belongsToOtherKey(certificate, 'not a key'), false, 'a bad key is reported on its own field, not twice');
  t.equal(belongsToOtherKey('not a certificate', key.privateKeyPem), false);
});

t.test('caBundleProblem: one or more readable certificates', async (t) => {
  const one = selfSignedCertificate(generateTestKey('ec'));
  const two = selfSignedCertificate(generateTestKey('rsa'));
  t.equal(caBundleProblem(one), undefined);
  t.equal(caBundleProblem(`# corporate roots\n${one}\n${two}`), undefined, 'a bundle with comments between certificates');
  t.match(caBundleProblem('just text'), /no PEM certificate found/);
  t.equal(caBundleProblem(`${one}\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`), 'certificate 2 of 2 is not readable');
});

t.test('tlsKeyProblem: any unencrypted key, never repeated', async (t) => {
  t.equal(tlsKeyProblem(generateTestKey('rsa').privateKeyPem), undefined);
  t.match(tlsKeyProblem('-----BEGIN PRIVATE KEY-----\nMIIsecret\n-----END PRIVATE KEY-----'), /^not a readable PEM private key/);
  t.notMatch(tlsKeyProblem('MIIsecret'), 'MIIsecret');
});
