/**
 * Per-span cost: each piece one order exercises, measured in processes of its own with tracing off and on
 * (span-case.ts), side by side in one run. An order makes 6 SERVER spans, 5 HTTP and 7 DynamoDB
 * CLIENT spans and about 25 log lines; `perOrderUs` adds the pieces up in those numbers.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { median } from './stats';

/** The pieces, each run by span-case.ts in a process of its own. */
export const SPAN_CASES = [
  'span',
  'propagation',
  'promises',
  'http',
  'dynamodb',
  'log',
  'json',
  'protobuf',
] as const;
export type SpanCase = (typeof SPAN_CASES)[number];

export interface SpanCost {
  offUs: number;
  onUs: number;
  addedUs: number;
}

/**
 * How many of each piece one order has. Every case but the serializations runs inside a SERVER span, so its
 * added cost counts only beyond the bare span's ("span", which stands for the six SERVER spans).
 */
const PER_ORDER: Record<SpanCase, number> = {
  span: 6,
  propagation: 6,
  promises: 6,
  http: 5,
  dynamodb: 7,
  log: 25,
  json: 18,
  protobuf: 0,
};

/** 6 SERVER spans, 5 HTTP and 7 DynamoDB CLIENT spans. */
const SPANS_PER_ORDER = 18;

async function runCase(name: SpanCase, variant: 'on' | 'off', iterations: number, execArgv: string[]) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [...execArgv, path.join(__dirname, 'span-case.js'), name, variant, String(iterations)],
    { maxBuffer: 1024 * 1024 },
  );
  return (JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { usPerOp: number }).usPerOp;
}

/** Each case off and on, interleaved `repeats` times; medians. `execArgv`: the instances' Node options. */
export async function measureSpanCosts(options: { iterations: number; repeats: number; execArgv: string[] }) {
  const costs = {} as Record<SpanCase, SpanCost>;
  for (const name of SPAN_CASES) {
    const off: number[] = [];
    const on: number[] = [];
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      off.push(await runCase(name, 'off', options.iterations, options.execArgv));
      on.push(await runCase(name, 'on', options.iterations, options.execArgv));
    }
    const offUs = median(off);
    const onUs = median(on);
    costs[name] = { offUs: round(offUs), onUs: round(onUs), addedUs: round(onUs - offUs) };
    process.stderr.write(`  per-span cost, ${name}: ${costs[name].addedUs} µs added\n`);
  }
  const beyondSpan = (name: SpanCase) =>
    ['span', 'json', 'protobuf'].includes(name)
      ? costs[name].addedUs
      : costs[name].addedUs - costs.span.addedUs;
  const perOrderUs = round(
    SPAN_CASES.reduce((sum, name) => sum + PER_ORDER[name] * Math.max(0, beyondSpan(name)), 0),
  );
  return { cases: costs, perOrderUs, perSpanUs: round(perOrderUs / SPANS_PER_ORDER) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
