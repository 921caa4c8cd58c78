import { writeFileSync } from 'node:fs';
import { prepare } from './environment.ts';
import { ProcessGroup, stopChildrenOnExit } from './processes.ts';
const group = new ProcessGroup();
stopChildrenOnExit(group);
const env = await prepare(group, { build: 'never' });
writeFileSync('/tmp/hold.json', JSON.stringify({ file: env.config.file, dir: env.config.dir, env: Object.fromEntries(Object.entries(env.config.env).filter(([k]) => k.startsWith('BENCH'))), nginx: env.smallUpstreamUrl, upstream: env.upstreamUrl }));
console.log('ready');
setInterval(() => {}, 1000);
