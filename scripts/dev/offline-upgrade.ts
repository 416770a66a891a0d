/**
 * `npm run offline:upgrade -- [version]`: moves serverless-offline to another release (by default the latest
 * 14.x) if what the local runtime relies on in it is unchanged, and otherwise says exactly what changed: a file,
 * a member of a class, or a message between serverless-offline and an instance (offline-internals.cjs,
 * internalsReport). Nothing is changed unless every check holds; then the pin in package.json and
 * PATCHED_VERSION move together, and `npm test` says the rest.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { internalsReport, PATCHED_VERSION } from '#local-runtime/offline-internals.cjs';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

const INTERNALS_FILE = path.join(PROJECT_ROOT, 'local-runtime', 'offline-internals.cjs');

function npm(args: string[], cwd = PROJECT_ROOT): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** The newest release of the major the project is on. */
function latestOfMajor(): string {
  const major = PATCHED_VERSION.split('.')[0];
  const versions = JSON.parse(npm(['view', `serverless-offline@^${major}`, 'version', '--json'])) as
    | string
    | string[];
  return [versions].flat().at(-1) as string;
}

async function main(): Promise<void> {
  const target = process.argv[2] ?? latestOfMajor();
  if (target === PATCHED_VERSION) {
    console.log(`serverless-offline is on ${target} already.`);
    return;
  }
  const scratch = mkdtempSync(path.join(tmpdir(), 'offline-upgrade-'));
  try {
    const tarball =
      npm(['pack', `serverless-offline@${target}`, '--silent'], scratch)
        .split('\n')
        .at(-1) ?? '';
    execFileSync('tar', ['-xzf', tarball], { cwd: scratch });
    const root = path.join(scratch, 'package');
    // Its modules import their dependencies: the project's, which the upgrade keeps.
    symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'));
    const findings = await internalsReport(root);
    console.log(`What local-runtime/ relies on in serverless-offline, ${PATCHED_VERSION} → ${target}:`);
    for (const { kind, what, problem } of findings) {
      console.log(
        `  ${problem ? 'CHANGED' : 'same   '} ${kind.padEnd(7)} ${what}${problem ? `: ${problem}` : ''}`,
      );
    }
    const changed = findings.filter((finding) => finding.problem);
    if (changed.length > 0) {
      console.log(
        `\nNot upgraded: ${changed.length} change(s) above. Adapt local-runtime/ to them ` +
          '(docs/serverless-offline-patches.md says what each patch does), then run this again.',
      );
      process.exitCode = 1;
      return;
    }
    npm(['install', '--save-dev', '--save-exact', `serverless-offline@${target}`, '--no-audit', '--no-fund']);
    const source = readFileSync(INTERNALS_FILE, 'utf8');
    writeFileSync(
      INTERNALS_FILE,
      source.replace(`const PATCHED_VERSION = '${PATCHED_VERSION}';`, `const PATCHED_VERSION = '${target}';`),
    );
    console.log(
      `\nserverless-offline ${PATCHED_VERSION} → ${target}: package.json's pin and PATCHED_VERSION moved together. ` +
        'Run npm test: the integration tier runs every patch for real.',
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
