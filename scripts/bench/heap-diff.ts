/**
 * `npm run bench:heap-diff -- before.heapsnapshot after.heapsnapshot [--top N] [--kind Timeout]`: what grew between two heap
 * snapshots of the same thread (the soak's, `npm run bench:soak -- --snapshots-at ...`).
 * - Retained objects by constructor in each, and the difference in count and self size.
 * - For the constructors that grew most, one object that exists only in the later snapshot (V8 keeps an
 *   object's id across snapshots of one isolate) and its retaining path: who holds it, up to a GC root.
 */
import { readFileSync } from 'node:fs';
import { optionsOf } from './options';

interface RawSnapshot {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_fields: string[];
      edge_types: [string[], ...unknown[]];
    };
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** A heap snapshot as flat arrays, with each node's first edge and its retainers. */
class Heap {
  readonly nodeCount: number;
  private readonly nodeWidth: number;
  private readonly edgeWidth: number;
  private readonly firstEdge: Uint32Array;
  private retainersOf?: Map<number, Array<{ from: number; edge: number }>>;

  constructor(private readonly raw: RawSnapshot) {
    const { node_fields: nodeFields, edge_fields: edgeFields } = raw.snapshot.meta;
    this.nodeWidth = nodeFields.length;
    this.edgeWidth = edgeFields.length;
    this.nodeCount = raw.nodes.length / this.nodeWidth;
    this.firstEdge = new Uint32Array(this.nodeCount + 1);
    const edgeCountAt = nodeFields.indexOf('edge_count');
    for (let node = 0, edge = 0; node < this.nodeCount; node++) {
      this.firstEdge[node] = edge;
      edge += (raw.nodes[node * this.nodeWidth + edgeCountAt] as number) * this.edgeWidth;
    }
    this.firstEdge[this.nodeCount] = raw.edges.length;
  }

  private field(node: number, name: string): number {
    return this.raw.nodes[node * this.nodeWidth + this.raw.snapshot.meta.node_fields.indexOf(name)] as number;
  }

  type(node: number): string {
    return this.raw.snapshot.meta.node_types[0][this.field(node, 'type')] as string;
  }

  name(node: number): string {
    return this.raw.strings[this.field(node, 'name')] as string;
  }

  id(node: number): number {
    return this.field(node, 'id');
  }

  selfSize(node: number): number {
    return this.field(node, 'self_size');
  }

  /** What a node is counted as: an object's constructor, or its type for strings, code, arrays and the rest. */
  kind(node: number): string {
    const type = this.type(node);
    return type === 'object' || type === 'closure'
      ? `${type === 'closure' ? 'closure ' : ''}${this.name(node)}`
      : `(${type})`;
  }

  edgeLabel(edge: number): string {
    const meta = this.raw.snapshot.meta;
    const type = meta.edge_types[0][
      this.raw.edges[edge + meta.edge_fields.indexOf('type')] as number
    ] as string;
    const nameOrIndex = this.raw.edges[edge + meta.edge_fields.indexOf('name_or_index')] as number;
    return type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : `.${this.raw.strings[nameOrIndex]}`;
  }

  private edgeType(edge: number): string {
    const meta = this.raw.snapshot.meta;
    return meta.edge_types[0][this.raw.edges[edge + meta.edge_fields.indexOf('type')] as number] as string;
  }

  /** Each node's retainers (weak edges left out: they do not keep anything alive). */
  retainers(node: number): Array<{ from: number; edge: number }> {
    if (!this.retainersOf) {
      this.retainersOf = new Map();
      const toAt = this.raw.snapshot.meta.edge_fields.indexOf('to_node');
      for (let from = 0; from < this.nodeCount; from++) {
        for (
          let edge = this.firstEdge[from] as number;
          edge < (this.firstEdge[from + 1] as number);
          edge += this.edgeWidth
        ) {
          if (this.edgeType(edge) === 'weak') continue;
          const to = (this.raw.edges[edge + toAt] as number) / this.nodeWidth;
          const list = this.retainersOf.get(to) ?? [];
          list.push({ from, edge });
          this.retainersOf.set(to, list);
        }
      }
    }
    return this.retainersOf.get(node) ?? [];
  }

  /** The shortest retaining path from a GC root (node 0, the synthetic root) to `node`, by breadth-first search back. */
  retainingPath(node: number, maxDepth = 60): string[] {
    const cameFrom = new Map<number, { next: number; edge: number }>([[node, { next: -1, edge: -1 }]]);
    let frontier = [node];
    for (let depth = 0; depth < maxDepth && frontier.length > 0; depth++) {
      const nextFrontier: number[] = [];
      for (const current of frontier) {
        for (const { from, edge } of this.retainers(current)) {
          if (cameFrom.has(from)) continue;
          cameFrom.set(from, { next: current, edge });
          if (from === 0) return this.describePath(0, cameFrom);
          nextFrontier.push(from);
        }
      }
      frontier = nextFrontier;
    }
    return [`(no root within ${maxDepth} steps)`];
  }

  private describePath(start: number, cameFrom: Map<number, { next: number; edge: number }>): string[] {
    const lines: string[] = [];
    let at = start;
    for (let step = cameFrom.get(at); step && step.next >= 0; step = cameFrom.get(at)) {
      lines.push(`${this.kind(at)} ${this.edgeLabel(step.edge)} →`);
      at = step.next;
    }
    lines.push(`${this.kind(at)} @${this.id(at)}`);
    return lines;
  }
}

interface Tally {
  count: number;
  bytes: number;
}

function tallyByKind(heap: Heap): Map<string, Tally> {
  const tally = new Map<string, Tally>();
  for (let node = 0; node < heap.nodeCount; node++) {
    const kind = heap.kind(node);
    const entry = tally.get(kind) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += heap.selfSize(node);
    tally.set(kind, entry);
  }
  return tally;
}

function load(file: string): Heap {
  return new Heap(JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot);
}

function main(): void {
  const args = process.argv.slice(2);
  const options = optionsOf(args);
  const top = options.number('top', 15);
  const optionValues = new Set(
    ['--top', '--kind'].map((name) => args.indexOf(name) + 1).filter((index) => index > 0),
  );
  const [beforeFile, afterFile] = args.filter(
    (arg, index) => !arg.startsWith('--') && !optionValues.has(index),
  );
  if (!beforeFile || !afterFile)
    throw new Error('usage: heap-diff before.heapsnapshot after.heapsnapshot [--top N]');
  const before = load(beforeFile);
  const beforeTally = tallyByKind(before);
  const beforeIds = new Set<number>();
  for (let node = 0; node < before.nodeCount; node++) beforeIds.add(before.id(node));
  const after = load(afterFile);
  const afterTally = tallyByKind(after);

  const kinds = new Set([...beforeTally.keys(), ...afterTally.keys()]);
  const growth = [...kinds]
    .map((kind) => {
      const then = beforeTally.get(kind) ?? { count: 0, bytes: 0 };
      const now = afterTally.get(kind) ?? { count: 0, bytes: 0 };
      return { kind, then, now, countDelta: now.count - then.count, bytesDelta: now.bytes - then.bytes };
    })
    .sort((x, y) => y.bytesDelta - x.bytesDelta);
  const total = (tally: Map<string, Tally>) =>
    [...tally.values()].reduce((sum, entry) => sum + entry.bytes, 0);
  const kb = (bytes: number) => (bytes / 1024).toFixed(1);
  console.log(`${beforeFile}: ${before.nodeCount} objects, ${kb(total(beforeTally))} KB`);
  console.log(`${afterFile}: ${after.nodeCount} objects, ${kb(total(afterTally))} KB`);
  console.log('\n| constructor | count before → after (Δ) | self KB before → after (Δ) |\n|---|---|---|');
  for (const row of growth.slice(0, top)) {
    console.log(
      `| ${row.kind} | ${row.then.count} → ${row.now.count} (${row.countDelta >= 0 ? '+' : ''}${row.countDelta}) | ` +
        `${kb(row.then.bytes)} → ${kb(row.now.bytes)} (${row.bytesDelta >= 0 ? '+' : ''}${kb(row.bytesDelta)}) |`,
    );
  }
  const kind = options.value('kind');
  const chosen = kind !== undefined ? growth.filter((entry) => entry.kind === kind) : growth.slice(0, 5);
  console.log(
    '\nretaining paths of one object new since the first snapshot, for the five that grew most (or --kind):',
  );
  for (const row of chosen.filter((entry) => entry.countDelta > 0)) {
    let sample = -1;
    for (let node = after.nodeCount - 1; node >= 0; node--) {
      if (after.kind(node) === row.kind && !beforeIds.has(after.id(node))) {
        sample = node;
        break;
      }
    }
    if (sample < 0) continue;
    console.log(`\n${row.kind} (id @${after.id(sample)}):`);
    for (const line of after.retainingPath(sample)) console.log(`  ${line}`);
  }
}

main();
