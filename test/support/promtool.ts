import { spawnSync } from 'node:child_process';

/**
 * promtool comes from Debian's `prometheus` package, which .ci/run installs. Elsewhere a machine with only Node
 * and Java still passes `npm test`: each promtool check is skipped by name, saying how to enable it. Never
 * under CI.
 */
const missing = spawnSync('promtool', ['--version']).error !== undefined;

export const skipPromtool =
  missing && process.env.CI !== 'true'
    ? 'promtool is not installed: `apt-get install prometheus` (Debian) enables this check; CI runs it'
    : false;
