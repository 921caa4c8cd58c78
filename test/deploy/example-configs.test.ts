import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse, parseAllDocuments } from 'yaml';
import { IDPS } from '../../src/cli/flags.ts';
import { schemaReference } from '../../src/cli/init.ts';
import { starterConfig } from '../../src/cli/starter-config.ts';
import { SCHEMA_ID } from '../../src/config/json-schema.ts';
import { parseConfig } from '../../src/config/load.ts';
import { hashPassword } from '../../src/inbound/password.ts';
import { committedSchemaValidator } from '../helpers/ajv.ts';

// The configs users start from must load as written (what `bearer-proxy check` validates),
// with their ${ENV} and ${file:…} values stood in for: a typo in an example is a support call.
// Each also validates, as written, against the committed proxy.schema.json, as an editor
// checks it, and names that schema on a `# yaml-language-server: $schema=` line.

const root = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMA_FILE = join(root, 'proxy.schema.json');
const validate = committedSchemaValidator();

interface Example {
  name: string;
  /** Where the file's relative $schema path resolves from. */
  dir: string;
  text: string;
}

const FILES = ['proxy.yaml.example', 'deploy/windows/proxy.windows.yaml', 'deploy/proxy.compose.yaml'];
/** Kubernetes manifests whose ConfigMap carries a proxy.yaml. */
const CONFIG_MAPS = ['deploy/kubernetes/configmap.yaml', 'deploy/kubernetes/sidecar.example.yaml'];
const DOCS = ['README.md', 'docs/powerbi.md', 'deploy/README.md', 'deploy/windows/README.md', 'deploy/systemd/README.md', 'deploy/kubernetes/README.md'];

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const examples: Example[] = [
  ...FILES.map((file) => ({ name: file, dir: dirname(join(root, file)), text: read(file) })),
  ...CONFIG_MAPS.flatMap((file) =>
    parseAllDocuments(read(file))
      .map((doc) => doc.toJS() as { kind?: string; data?: Record<string, string> } | null)
      .filter((doc) => doc?.kind === 'ConfigMap' && doc.data?.['proxy.yaml'] !== undefined)
      .map((doc) => ({ name: `${file} (ConfigMap proxy.yaml)`, dir: dirname(join(root, file)), text: doc!.data!['proxy.yaml']! })),
  ),
  // A YAML block in the docs with routes: at its top level is a whole config file.
  ...DOCS.flatMap((file) =>
    [...read(file).matchAll(/^( *)```yaml\n([\s\S]*?)^\1```/gm)]
      .map((block) =>
        block[2]!
          .split('\n')
          .map((line) => line.slice(block[1]!.length))
          .join('\n'),
      )
      .filter((text) => /^routes:/m.test(text))
      .map((text, index) => ({ name: `${file}, YAML block ${index + 1} with routes:`, dir: root, text })),
  ),
  ...IDPS.map((idp) => ({ name: `bearer-proxy init --idp ${idp}`, dir: root, text: starterConfig(idp, { schemaRef: schemaReference(root), configArg: '' }).text })),
];

t.test('the examples found', async (t) => {
  t.ok(examples.length >= FILES.length + CONFIG_MAPS.length + IDPS.length + 1, examples.map((example) => example.name).join('\n'));
});

for (const example of examples) {
  t.test(example.name, async (t) => {
    const hash = await hashPassword('test-password', { N: 2 ** 10, r: 8, p: 1 });
    const env = new Proxy({}, { get: (_, name) => `placeholder-${String(name).toLowerCase()}` });
    const { config, warnings } = parseConfig(example.text, {
      source: example.name,
      env,
      readFile: (path) => (path.endsWith('_hash') ? hash : `secret-from-${basename(path)}`),
    });
    t.ok(Object.keys(config.routes).length > 0, 'has a route');
    t.same(warnings, [], 'no warnings (no secret written in plain text)');

    t.same(validate(parse(example.text)), [], 'valid against the committed proxy.schema.json, ${…} references and all');
    const reference = /^# yaml-language-server: \$schema=(\S+)$/m.exec(example.text)?.[1];
    t.ok(reference, 'a # yaml-language-server: $schema= line');
    if (reference && reference !== SCHEMA_ID) t.equal(join(example.dir, reference), SCHEMA_FILE, `${reference} is the committed schema, relative to the file`);
  });
}

t.test("a typo'd key fails the schema, as it fails the loader", async (t) => {
  const text = read('proxy.yaml.example').replace(/^( +)scope:/m, '$1scopes:');
  t.not(text, read('proxy.yaml.example'));
  t.match(validate(parse(text)), [/must NOT have additional properties \(scopes\)/]);
  t.throws(() => parseConfig(text, { env: new Proxy({}, { get: () => 'x' }), readFile: () => 'x' }), /unknown key "scopes" \(did you mean "scope"\?\)/);
});
