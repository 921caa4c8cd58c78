import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { hashPassword } from '../../src/inbound/password.ts';

// No cluster here: the manifests are checked offline, for what a cluster would refuse or
// what would break at run time (a port or path that does not line up, a config that does
// not load), and the configs they carry are loaded by the proxy's own config loader.

const dir = new URL('../../deploy/kubernetes/', import.meta.url);
type Manifest = { kind?: string; metadata?: { name?: string; annotations?: Record<string, string> }; data?: Record<string, string>; spec?: any; [key: string]: any };

function manifests(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(new URL(file, dir), 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${file}: not YAML documents`);
  for (const doc of docs) if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((error) => error.message).join('; ')}`);
  return docs.map((doc) => doc.toJS() as Manifest | null).filter((doc): doc is Manifest => doc !== null);
}

/** Loads a proxy.yaml as the pods would, with the Secret's files stood in for. */
async function loadPodConfig(text: string) {
  const hash = await hashPassword('test-password', { N: 2 ** 10, r: 8, p: 1 });
  return parseConfig(text, { env: {}, readFile: (path) => (path.endsWith('_hash') ? hash : `secret-from-${basename(path)}`) });
}

const yamlFiles = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
const [kustomization] = manifests('kustomization.yaml');
const [configMap] = manifests('configmap.yaml');
const [deployment] = manifests('deployment.yaml');
const container = deployment!.spec.template.spec.containers[0];
const portNumber = (name: string): number | undefined => container.ports.find((port: { name: string }) => port.name === name)?.containerPort;

t.test('every file is valid YAML; the kustomization names files that exist and never the Secret', async (t) => {
  for (const file of yamlFiles) t.doesNotThrow(() => manifests(file), file);
  t.equal(kustomization!.kind, 'Kustomization');
  const resources = kustomization!.resources as string[];
  t.same(
    resources.filter((file) => !existsSync(new URL(file, dir))),
    [],
    'every resource exists',
  );
  t.same(resources.sort(), ['configmap.yaml', 'deployment.yaml', 'service.yaml']);
  t.same(manifests('secret.example.yaml'), [], 'secret.example.yaml holds no object: applying it cannot overwrite the real Secret');
  t.notOk(
    yamlFiles.some((file) => manifests(file).some((doc) => doc.kind === 'Secret')),
    'no file in the directory is a Secret',
  );
  const image = (kustomization!.images as Array<{ name: string }>)[0]!.name;
  t.equal(container.image.split(':')[0], image, 'the kustomization sets the image the Deployment runs');
});

t.test('the ConfigMap config loads, and the Deployment lines up with it', async (t) => {
  const { config } = await loadPodConfig(configMap!.data!['proxy.yaml']!);
  t.equal(portNumber('http'), 8080, 'the container port the image listens on (--host 0.0.0.0, port 8080)');
  t.equal(config.admin?.port, portNumber('metrics'), 'admin.port is the container port "metrics"');
  t.equal(config.admin?.host, '0.0.0.0', 'the admin listener is reachable from Prometheus');
  const annotations = deployment!.spec.template.metadata.annotations as Record<string, string>;
  t.equal(annotations['prometheus.io/port'], String(config.admin?.port), 'the scrape annotation points at the admin listener');
  t.equal(annotations['prometheus.io/path'], '/metrics');
  for (const probe of ['livenessProbe', 'readinessProbe']) t.ok(portNumber(container[probe].httpGet.port), `${probe} uses a declared port`);
  t.equal(container.readinessProbe.httpGet.path, '/readyz');
  t.equal(container.livenessProbe.httpGet.path, '/healthz');
  t.ok(
    config.inbound.users.some((user) => user.name === 'prometheus'),
    'a user of its own for the scraper',
  );
  const mounts = container.volumeMounts as Array<{ name: string; mountPath: string }>;
  t.equal(mounts.find((mount) => mount.name === 'config')?.mountPath, '/etc/bearer-proxy', 'mounted where BEARER_PROXY_CONFIG (Dockerfile) looks');
  t.match(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'), /BEARER_PROXY_CONFIG=\/etc\/bearer-proxy\/proxy\.yaml/);
  const secretsAt = mounts.find((mount) => mount.name === 'secrets')?.mountPath;
  for (const path of configMap!.data!['proxy.yaml']!.match(/\$\{file:([^}]+)\}/g) ?? []) t.ok(path.startsWith(`\${file:${secretsAt}/`), `${path} is in the Secret's mount`);
  t.ok(deployment!.spec.template.spec.terminationGracePeriodSeconds * 1000 > config.shutdownTimeout, 'the pod is given longer than the drain');
});

t.test('the PodMonitor scrapes the admin port of these pods with credentials', async (t) => {
  const [monitor] = manifests('podmonitor.yaml');
  t.equal(monitor!.kind, 'PodMonitor');
  const endpoint = monitor!.spec.podMetricsEndpoints[0];
  t.ok(portNumber(endpoint.port), `port "${endpoint.port}" is declared by the container`);
  t.equal(endpoint.path, '/metrics');
  t.ok(endpoint.basicAuth.username && endpoint.basicAuth.password, 'basic auth from a Secret');
  t.same(monitor!.spec.selector.matchLabels, deployment!.spec.selector.matchLabels, "selects the Deployment's pods");
});

t.test('the sidecar example: loopback only, anonymous, a native sidecar with exec probes', async (t) => {
  const docs = manifests('sidecar.example.yaml');
  const sidecarConfig = docs.find((doc) => doc.kind === 'ConfigMap')!;
  const app = docs.find((doc) => doc.kind === 'Deployment')!;
  const { config } = await loadPodConfig(sidecarConfig.data!['proxy.yaml']!);
  t.equal(config.listen.host, '127.0.0.1');
  t.equal(config.inbound.anonymous, 'loopback');
  const proxy = app.spec.template.spec.initContainers.find((c: { name: string }) => c.name === 'bearer-proxy');
  t.equal(proxy.restartPolicy, 'Always', 'an init container that keeps running: a native sidecar');
  t.same(proxy.args, ['serve', '--host', '127.0.0.1'], "overrides the image's --host 0.0.0.0");
  for (const probe of ['startupProbe', 'livenessProbe']) t.ok(proxy[probe].exec && !proxy[probe].httpGet, `${probe} runs inside the pod (the kubelet cannot reach its loopback)`);
  const mounted = app.spec.template.spec.containers.flatMap((c: { volumeMounts?: Array<{ name: string }> }) => c.volumeMounts ?? []).map((m: { name: string }) => m.name);
  t.notOk(mounted.includes('bearer-proxy-secrets'), 'the app container never mounts the client secret');
});
