import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Packaging builds the arm64 compile cache under qemu-user (local-runtime/compile-cache.cjs), from Debian's
 * `qemu-user-static`, `libc6-arm64-cross` and `libstdc++6-arm64-cross`, which .ci/run installs. Elsewhere, on
 * an x64 machine with only Node and Java, the package has no arm64 cache and its check is skipped by name,
 * saying how to enable it. Never under CI.
 */
const foreign = process.arch !== 'arm64';
const missing =
  foreign &&
  (spawnSync('qemu-aarch64-static', ['--version']).error !== undefined ||
    !existsSync('/usr/aarch64-linux-gnu'));

export const skipForeignCache =
  missing && process.env.CI !== 'true'
    ? 'qemu-user is not installed: `apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross` (Debian) enables this check; CI runs it'
    : false;
