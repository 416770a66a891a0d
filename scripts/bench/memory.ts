/** The local runtime's memory report (local-runtime/memory-report.cjs), asked for and read by the benches. */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { eventually } from '../lib/eventually';

export interface ThreadMemory extends NodeJS.MemoryUsage {
  /** The most V8 lets this thread's heap grow to (a Lambda instance's: from its function's memory size). */
  heapSizeLimit: number;
  /** V8's heap spaces by name (code_space, old_space, ...), bytes used. */
  heapSpaces: Record<string, number>;
  /** The same spaces, bytes V8 has committed for them. */
  heapSpacesCommitted: Record<string, number>;
}

/** One thread's figures and, when the process runs with --expose-gc, the same after a forced full collection. */
export interface MemoryFigures extends ThreadMemory {
  afterGc?: ThreadMemory;
}

export interface MemoryReport {
  /** The whole process's RSS (every thread). */
  rss: number;
  main: MemoryFigures;
  instances: Array<MemoryFigures & { function: string }>;
  /** Heap snapshot files written with this report (OFFLINE_HEAP_SNAPSHOTS). */
  snapshots: string[];
  /** What the main thread gave back once the pool was quiet (local-runtime/idle-memory.cjs). */
  releasedWhenQuiet?: { count: number; lastRssBeforeMb?: number; lastRssAfterMb?: number };
}

/**
 * Asks the offline process `pid` for its memory report (SIGUSR2) and reads it from `file` once written; with
 * `snapshots`, the report also writes heap snapshots there, their names starting with `label`. Heap snapshots
 * of a few hundred MB take a while: the deadline allows for them.
 */
export async function memoryReportOf(
  pid: number,
  file: string,
  {
    deadlineMs = 180_000,
    snapshots,
  }: { deadlineMs?: number; snapshots?: { to: string; label: string } } = {},
): Promise<MemoryReport> {
  rmSync(file, { force: true });
  if (snapshots) {
    writeFileSync(`${file}.request`, JSON.stringify({ snapshotsTo: snapshots.to, label: snapshots.label }));
  }
  process.kill(pid, 'SIGUSR2');
  return eventually(
    () => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as MemoryReport;
      } catch {
        return undefined;
      }
    },
    { what: `the memory report in ${file}`, timeoutMs: deadlineMs },
  );
}
