import { readdirSync, readFileSync } from 'node:fs';
import t from 'tap';

// Every command README.md and docs/*.md tell a user to type, in a shell or PowerShell code
// block, must be run by a test (or CI) that says so, or be listed here with the reason it
// cannot run on this machine. A command added to the docs and to neither fails this test.

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const DOCS = [
  'README.md',
  ...readdirSync(new URL('docs/', root))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const SHELL_BLOCKS = new Set(['sh', 'bash', 'shell', 'console', 'powershell', 'ps1', 'pwsh', 'cmd']);

type Coverage =
  /** Run, verbatim, by this file or CI step; `evidence` must appear in it. */
  | { by: string; evidence: RegExp }
  /** Cannot run here; why, and what checks the same thing instead. */
  | { notHere: string };

const FRESH_CLONE = 'test/e2e/fresh-clone.test.ts';
const COVERAGE: Record<string, Coverage> = {
  'npm install && npm run demo': { by: FRESH_CLONE, evidence: /'npm install && npm run demo'/ },
  'npm run build': { by: FRESH_CLONE, evidence: /'npm run build'/ },
  'node dist/cli.js check --fetch-tokens': { by: FRESH_CLONE, evidence: /'node dist\/cli\.js check --fetch-tokens'/ },
  'node dist/cli.js': { by: FRESH_CLONE, evidence: /'node dist\/cli\.js'/ },
  'npm test': { by: '.ci/run', evidence: /^npm test /m },
  'npm run lint': { by: 'package.json', evidence: /"test": "[^"]*npm run lint/ },
  'npm run format': { notHere: 'it rewrites the checkout; npm run lint (in npm test) checks that nothing is left for it to do' },
  'npm run dist': { by: '.ci/run', evidence: /^if npm run dist; then/m },
  'npm run smoke': { by: '.ci/run', evidence: /^ {2}npm run smoke /m },
  'cd dist-artifacts && sha256sum -c SHA256SUMS': { by: 'scripts/smoke/artifacts.ts', evidence: /SHA256SUMS matches both artifacts/ },
  './bearer-proxy-0.1.0-linux-x64 --version': { by: 'scripts/smoke/artifacts.ts', evidence: /\['--version'\]/ },
  'npm run package': { by: 'test/e2e/package.test.ts', evidence: /\['run', 'package'/ },
  // Into a prefix of its own rather than the machine's global one; otherwise the same.
  'npm install -g ./bearer-proxy-0.1.0.tgz': { by: 'test/e2e/package.test.ts', evidence: /\['install', '-g', '--prefix'/ },
  'npm run bench': { notHere: 'two minutes of load by design: run by hand, results in bench/RESULTS.md' },
  'npm run bench:soak': { notHere: 'ten minutes of load by design: run by hand, results in bench/RESULTS.md' },
  'npm run bench:startup': { notHere: 'timing of repeated spawns by design: run by hand, results in bench/RESULTS.md and the closing note' },
  'bash .ci/run': { notHere: 'it is CI itself, which runs every other command here' },
  'docker build -t bearer-proxy .': { notHere: 'no Docker engine here: test/deploy/dockerfile.test.ts checks the Dockerfile' },
  'docker run -p 8080:8080 -v "$PWD/proxy.yaml:/etc/bearer-proxy/proxy.yaml" -e LAKE_CLIENT_SECRET bearer-proxy': { notHere: 'no Docker engine here' },
  'docker build --secret id=npm_ca,src=corp-ca.pem -t bearer-proxy .': { notHere: 'no Docker engine here: test/deploy/dockerfile.test.ts checks the secret mount' },
};
/** Whole languages that cannot run here. */
const NOT_HERE_LANGUAGES: Record<string, string> = {
  powershell: 'PowerShell on the Windows gateway host; the zip these commands install is run under Wine by scripts/smoke/artifacts.ts',
};

interface DocCommand {
  file: string;
  language: string;
  command: string;
}

/** Shell commands in fenced code blocks: continuation lines joined, comments and blank lines dropped. */
function extractCommands(file: string, markdown: string): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const block of markdown.matchAll(/^( *)```(\w+)\n([\s\S]*?)^\1```/gm)) {
    const [, indent = '', language = '', body = ''] = block;
    if (!SHELL_BLOCKS.has(language)) continue;
    const lines = body.split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line));
    for (const line of lines
      .join('\n')
      .replace(/\s*\\\n\s*/g, ' ')
      .split('\n')) {
      const command = line.replace(/(^|\s+)#(\s.*)?$/, '').trim();
      if (command) commands.push({ file, language, command });
    }
  }
  return commands;
}

const found = DOCS.flatMap((file) => extractCommands(file, read(file)));

t.test('the extractor sees fenced shell blocks, indented ones too, and leaves comments out', async (t) => {
  const sample = 'text\n```sh\nnpm test   # runs it\n# a note\n```\n1. step\n\n   ```bash\n   a \\\n     b\n   ```\n```yaml\nx: 1\n```\n';
  t.same(
    extractCommands('x.md', sample).map((entry) => entry.command),
    ['npm test', 'a b'],
  );
  t.ok(found.length >= 10, `${found.length} commands in ${DOCS.join(', ')}`);
});

t.test('every command in the docs is run by a test, or listed with why it cannot run here', async (t) => {
  const uncovered = found.filter((entry) => !(entry.command in COVERAGE) && !(entry.language in NOT_HERE_LANGUAGES));
  t.same(
    uncovered.map((entry) => `${entry.file} (${entry.language}): ${entry.command}`),
    [],
    'add each to COVERAGE with the test that runs it, or the reason it cannot',
  );
  const stale = Object.keys(COVERAGE).filter((command) => !found.some((entry) => entry.command === command));
  t.same(stale, [], 'COVERAGE names no command the docs no longer have');
});

t.test('each test named as running a command does run it', async (t) => {
  for (const [command, coverage] of Object.entries(COVERAGE)) {
    if ('by' in coverage) t.match(read(coverage.by), coverage.evidence, `${command}: ${coverage.by}`);
  }
});

t.test('file names with a version in the docs carry the current one', async (t) => {
  const { version } = JSON.parse(read('package.json')) as { version: string };
  const mentioned = new Set([...DOCS, 'deploy/windows/README.md'].flatMap((file) => [...read(file).matchAll(/bearer-proxy-(\d+\.\d+\.\d+)[-.]/g)].map((match) => match[1])));
  t.same([...mentioned], [version]);
});
