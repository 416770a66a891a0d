import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

/**
 * A worktree of `ref`, built with tsc and sharing this project's node_modules: the build a bench compares this
 * one with (`--before <ref>`). Remove it with removeWorktree.
 */
export function buildWorktree(ref: string): string {
  const root = mkdtempSync(path.join(tmpdir(), 'bench-before-'));
  execFileSync('git', ['worktree', 'add', '--detach', root, ref], { cwd: PROJECT_ROOT, stdio: 'ignore' });
  symlinkSync(path.join(PROJECT_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  execFileSync(
    process.execPath,
    [path.join(PROJECT_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root],
    { cwd: root, stdio: 'inherit' },
  );
  return root;
}

export function removeWorktree(root: string): void {
  execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: PROJECT_ROOT, stdio: 'ignore' });
}
