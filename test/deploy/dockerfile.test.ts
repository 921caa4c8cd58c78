import { readFileSync } from 'node:fs';
import t from 'tap';
import { NODE_LINUX_X64 } from '../../scripts/dist/pins.ts';

// No Docker engine here: what can go wrong without one is checked against the text.
const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

t.test('the image runs the Node major that the smoke-tested Linux executable runs', async (t) => {
  const majors = [...dockerfile.matchAll(/^FROM node:(\d+)-slim\b/gm)].map((match) => match[1]);
  t.equal(majors.length, 2, 'both stages');
  t.same(new Set(majors), new Set([NODE_LINUX_X64.version.split('.')[0]]), `node:${NODE_LINUX_X64.version.split('.')[0]} like scripts/dist/pins.ts`);
});

t.test('every npm ci can trust a corporate CA given as a build secret, and runs no install scripts', async (t) => {
  const steps = dockerfile.split(/\n(?=[A-Z]+ )/).filter((step) => step.startsWith('RUN ') && /\bnpm ci\b/.test(step));
  t.equal(steps.length, 2);
  for (const step of steps) {
    t.match(step, /--mount=type=secret,id=npm_ca,required=false/, 'the CA is a secret mount, absent unless given');
    t.match(step, /NODE_EXTRA_CA_CERTS=\/run\/secrets\/npm_ca/, 'added to the public CAs, not replacing them');
    t.match(step, /--ignore-scripts/);
  }
  t.match(dockerfile, /docker build --secret id=npm_ca,src=/, 'the build command is written down');
});
