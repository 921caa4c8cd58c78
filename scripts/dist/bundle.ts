import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

export interface Bundle {
  /** The whole CLI as one CommonJS file: what node.exe runs and what the single executable embeds. */
  code: string;
  /** License texts of every package whose code is in the bundle. */
  licenses: string;
}

/**
 * One file holding the CLI and every production dependency. CommonJS because a Node 22/24
 * single executable runs only a CommonJS main script; esbuild turns the lazy `import()` of
 * commands into lazy `require`s, so a command still loads only what it uses.
 */
export async function bundleCli(root: string, version: string, target: string): Promise<Bundle> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/cli.ts'],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target,
    write: false,
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
    define: {
      BEARER_PROXY_BUNDLED_VERSION: JSON.stringify(version),
      // import.meta is empty in CommonJS; the one remaining use (createRequire for the npm
      // build's pino-pretty) is not reached in the bundle, but must not throw when parsed.
      'import.meta.url': '__bundle_url',
    },
    banner: { js: "const __bundle_url = require('node:url').pathToFileURL(__filename).href;" },
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild wrote no output');
  return { code: output.text, licenses: thirdPartyLicenses(root, Object.keys(result.metafile.inputs)) };
}

/** The packages under node_modules that contributed input files, each with its license file. */
function thirdPartyLicenses(root: string, inputs: string[]): string {
  const packages = new Set<string>();
  for (const input of inputs) {
    // The innermost node_modules/<name>/ is the package (nested copies count separately).
    const last = [...input.matchAll(/node_modules\/(?:@[^/]+\/)?[^/]+\//g)].at(-1);
    if (last) packages.add(input.slice(0, last.index + last[0].length - 1));
  }
  const sections: string[] = [];
  for (const dir of [...packages].sort()) {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const licenseFile = readdirSync(join(root, dir)).find((name) => /^(licen[sc]e|copying)(\.|$)/i.test(name));
    const text = licenseFile && existsSync(join(root, dir, licenseFile)) ? readFileSync(join(root, dir, licenseFile), 'utf8').trim() : `License: ${manifest.license ?? 'see the package'} (the package ships no license file)`;
    sections.push(`${manifest.name} ${manifest.version}\n${'-'.repeat(manifest.name.length + manifest.version.length + 1)}\n${text}`);
  }
  return sections.join('\n\n\n');
}
