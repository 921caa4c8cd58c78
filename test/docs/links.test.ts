import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

// Links between the docs (README, docs/, deploy/) point at files that exist and at headings
// those files have, as GitHub names them; and the docs give one answer on credentials.

const root = fileURLToPath(new URL('../../', import.meta.url));
const markdownIn = (dir: string): string[] =>
  readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? markdownIn(path) : name.endsWith('.md') ? [path] : [];
  });
const FILES = ['README.md', 'SECURITY.md', ...markdownIn('docs'), ...markdownIn('deploy')];
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(path: string): Set<string> {
  const text = read(path).replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => slug(match[1]!)));
}

t.test('relative links lead to files and headings that exist', async (t) => {
  let checked = 0;
  for (const file of FILES) {
    const text = read(file).replace(/^ *```[\s\S]*?^ *```/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue;
      const [pathPart, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = pathPart === '' ? file : relative(root, join(root, dirname(file), pathPart));
      checked++;
      t.ok(existsSync(join(root, resolved)), `${file}: ${target} exists`);
      if (anchor && resolved.endsWith('.md') && existsSync(join(root, resolved))) t.ok(anchors(resolved).has(anchor), `${file}: ${resolved} has a heading #${anchor}`);
    }
  }
  t.ok(checked > 10, `${checked} links`);
});

t.test("one answer on credentials: Anonymous on the proxy's own machine, Basic from elsewhere", async (t) => {
  const readme = read('README.md');
  const powerbi = read('docs/powerbi.md');
  const windows = read('deploy/windows/README.md');
  for (const [name, text] of [
    ['README.md', readme],
    ['docs/powerbi.md', powerbi],
    ['deploy/windows/README.md', windows],
  ] as const) {
    t.match(text, /Anonymous/, `${name} names Anonymous`);
    t.match(text, /Basic/, `${name} names Basic`);
    t.notMatch(text, /gateway host[^.]*configure `inbound\.users`[^.]*choose \*Basic\*/, `${name} does not send the gateway host to Basic`);
  }
  t.match(readme, /machine where Power Query runs[\s\S]{0,400}\*\*Anonymous\*\*[\s\S]{0,300}another machine[\s\S]{0,200}\*\*Basic\*\*/);
  t.match(powerbi, /On-premises data gateway, proxy on the gateway host \| default: the gateway connects over loopback \| \*\*Anonymous\*\*/);
  t.match(windows, /the gateway data source uses \*\*Anonymous\*\*/);
});

t.test('docs/powerbi.md: clearing cached credentials, the URL level, and localhost from the service', async (t) => {
  const powerbi = read('docs/powerbi.md');
  t.match(powerbi, /Data source settings[\s\S]{0,200}Global permissions[\s\S]{0,200}Clear Permissions/);
  t.match(powerbi, /Select which level to apply these settings to[\s\S]{0,400}\*\*`http:\/\/localhost:8080\/`\*\*/);
  t.match(powerbi, /The Power BI service cannot reach `localhost`/);
});

t.test("README's architecture walk names source files that exist, and every file of src/proxy/", async (t) => {
  const readme = read('README.md');
  const walk = readme.slice(readme.indexOf('### Architecture: the walk of one request'), readme.indexOf('Decisions worth knowing:'));
  const named = new Set([...walk.matchAll(/`(?:src\/)?((?:proxy|odata|log|http|admin|inbound|tokens|config|cli)\/[\w/-]+\.ts)`/g)].map((match) => `src/${match[1]}`));
  t.ok(named.size > 20, `${named.size} files named`);
  t.same(
    [...named].filter((path) => !existsSync(join(root, path))),
    [],
    'every file named exists',
  );
  const proxyFiles = readdirSync(join(root, 'src/proxy')).filter((name) => name.endsWith('.ts'));
  t.same(
    proxyFiles.filter((name) => !named.has(`src/proxy/${name}`)),
    [],
    'every file of the request path is in the walk',
  );
});
