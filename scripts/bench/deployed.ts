/**
 * The deployed artifact's cost, measured the way the deployed-contract tier runs it (deployed-runtime.ts):
 * the prod package, each function a fresh Node process on the runtime's loop, behind the template's API.
 * - Cold start per function, traced against untraced: one function's sandbox at a time is replaced by a fresh
 *   one (process start → init → its first invocation) while the others stay warm, in the same mode; the
 *   modes alternate. The first invocation is the function's part of a real order (the reaper: a schedule
 *   event), so for a function with callees it includes their warm answers.
 * - The per-invocation flush: deployed, each function exports its spans and log records before it answers,
 *   so an OTLP endpoint's round trip is added to every hop of an order, and the hops are serial. Orders run
 *   untraced, traced with a receiver that answers at once, and traced with one 50 ms away, interleaved.
 */

import { scheduleEvent } from '../deployed/api';
import { createStageTables, type Packaged, packageStage, removeDirs } from '../deployed/package';
import { SsmStandIn } from '../deployed/ssm-stand-in';
import { DeployedStack } from '../deployed/stack';
import { SEED_ORDER } from '../dev/order';
import { startDynamoDbLocal } from '../lib/dynamodb-local';
import { MANIFESTS } from '../lib/manifests';
import { OtlpEndpoint } from '../lib/otlp-receivers';
import { freePort } from '../lib/ports';
import { optionsOf } from './options';
import { median } from './stats';

/** Milliseconds of one cold start: init (process start → handler loaded), the first invocation, the sum. */
export interface ColdPhases {
  initMs: number;
  firstInvocationMs: number;
  totalMs: number;
}

export interface DeployedResults {
  zipKb: Record<string, number>;
  /**
   * By service: medians over the runs, and the median of each run's traced-minus-untraced difference (the two
   * modes run back to back, so a drift of the machine weighs on both alike).
   */
  coldStart: Record<string, { untraced: ColdPhases; traced: ColdPhases; addedMs: number }>;
  /** One order end to end (median ms) and, by service, one warm invocation (median ms), per variant. */
  flush: {
    delayMs: number;
    orderMs: Record<FlushVariant, number>;
    invocationMs: Record<string, Record<FlushVariant, number>>;
  };
}

type Mode = 'untraced' | 'traced';
type FlushVariant = 'untraced' | 'traced' | 'traced_far';

const FLUSH_DELAY_MS = 50;
/** The function that runs on a schedule: it has no route to reach it through an order. */
const SCHEDULED_SERVICE = MANIFESTS.find((manifest) => manifest.schedule)?.service;

export async function measureDeployed(options: {
  coldRuns: number;
  flushOrders: number;
  log: (line: string) => void;
}): Promise<DeployedResults> {
  const packaged = await packageStage('prod');
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const otlp = await new OtlpEndpoint().start();
  const ssm = await new SsmStandIn({
    '/orders/prod/otlp-headers': 'authorization=Basic%20YmVuY2g6YmVuY2g=',
  }).start();
  const stacks: Partial<Record<Mode, DeployedStack>> = {};
  try {
    await createStageTables(packaged, dynamo.endpoint);
    const common = {
      packaged,
      otlpEndpoint: otlp.url,
      dynamodbEndpoint: dynamo.endpoint,
      ssmEndpoint: ssm.url,
    };
    // No order is refused for fraud: every hop runs on every order.
    stacks.untraced = await new DeployedStack({
      ...common,
      overrides: { FRAUD_PERCENTAGE: '0', OTEL_SDK_DISABLED: 'true' },
    }).start();
    stacks.traced = await new DeployedStack({ ...common, overrides: { FRAUD_PERCENTAGE: '0' } }).start();
    const modes = stacks as Record<Mode, DeployedStack>;
    for (const mode of ['untraced', 'traced'] as const) {
      for (let order = 0; order < 3; order++) await placeOrder(modes[mode]);
    }
    options.log(`deployed cold starts: ${options.coldRuns} per function and mode`);
    const coldStart = await measureColdStarts(modes, options.coldRuns);
    options.log(
      `deployed flush: ${options.flushOrders} orders per variant, receiver 0 and ${FLUSH_DELAY_MS} ms away`,
    );
    const flush = await measureFlush(modes, otlp, options.flushOrders);
    return { zipKb: zipSizes(packaged), coldStart, flush };
  } finally {
    await stacks.untraced?.stop();
    await stacks.traced?.stop();
    await otlp.stop();
    await ssm.stop();
    await dynamo.stop();
    removeDirs(packaged.dir);
  }
}

function zipSizes(packaged: Packaged): Record<string, number> {
  return Object.fromEntries(
    packaged.functions.map((fn) => [String(fn.variables.OTEL_SERVICE_NAME), Math.round(fn.zipBytes / 1024)]),
  );
}

async function placeOrder(stack: DeployedStack): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${stack.api.url}/prod/api/order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(SEED_ORDER),
  });
  const body = await response.text();
  if (response.status !== 201) throw new Error(`order answered ${response.status}: ${body}`);
  return performance.now() - started;
}

async function measureColdStarts(stacks: Record<Mode, DeployedStack>, runs: number) {
  const samples = new Map<string, Record<Mode, ColdPhases[]>>();
  for (let run = 0; run < runs; run++) {
    for (const fn of stacks.traced.functions) {
      const service = String(fn.variables.OTEL_SERVICE_NAME);
      const order: Mode[] = run % 2 === 0 ? ['untraced', 'traced'] : ['traced', 'untraced'];
      for (const mode of order) {
        const stack = stacks[mode];
        const sandbox = await stack.replace(fn.logicalId);
        await sandbox.initialized;
        // Lambda runs init, then the invocation: the request is sent once init is over.
        if (service === SCHEDULED_SERVICE) await sandbox.invoke(scheduleEvent(fn.functionName));
        else await placeOrder(stack);
        const [first] = sandbox.answers;
        if (!first || sandbox.initDoneAt === undefined)
          throw new Error(`${service} (${mode}) did not answer`);
        const phases = {
          initMs: sandbox.initDoneAt - sandbox.spawnedAt,
          firstInvocationMs: first.answeredAt - first.startedAt,
          totalMs: first.answeredAt - first.startedAt + (sandbox.initDoneAt - sandbox.spawnedAt),
        };
        const bucket = samples.get(service) ?? { untraced: [], traced: [] };
        bucket[mode].push(phases);
        samples.set(service, bucket);
      }
    }
  }
  const medianOf = (phases: ColdPhases[]): ColdPhases => ({
    initMs: median(phases.map((phase) => phase.initMs)),
    firstInvocationMs: median(phases.map((phase) => phase.firstInvocationMs)),
    totalMs: median(phases.map((phase) => phase.totalMs)),
  });
  return Object.fromEntries(
    [...samples].map(([service, { untraced, traced }]) => [
      service,
      {
        untraced: medianOf(untraced),
        traced: medianOf(traced),
        addedMs: median(traced.map((phases, run) => phases.totalMs - (untraced[run]?.totalMs ?? Number.NaN))),
      },
    ]),
  );
}

async function measureFlush(stacks: Record<Mode, DeployedStack>, otlp: OtlpEndpoint, orders: number) {
  const variants: Array<[FlushVariant, Mode, number]> = [
    ['untraced', 'untraced', 0],
    ['traced', 'traced', 0],
    ['traced_far', 'traced', FLUSH_DELAY_MS],
  ];
  const orderMs: Record<FlushVariant, number[]> = { untraced: [], traced: [], traced_far: [] };
  const invocations = new Map<string, Record<FlushVariant, number[]>>();
  for (let order = 0; order < orders; order++) {
    for (const [variant, mode, delay] of variants) {
      otlp.answerDelayMs = delay;
      const stack = stacks[mode];
      const answered = new Map(
        stack.functions.map((fn) => [fn.logicalId, stack.sandbox(fn.logicalId).answers.length]),
      );
      orderMs[variant].push(await placeOrder(stack));
      for (const fn of stack.functions) {
        const sandbox = stack.sandbox(fn.logicalId);
        for (const outcome of sandbox.answers.slice(answered.get(fn.logicalId))) {
          const service = String(fn.variables.OTEL_SERVICE_NAME);
          const bucket = invocations.get(service) ?? { untraced: [], traced: [], traced_far: [] };
          bucket[variant].push(outcome.answeredAt - outcome.startedAt);
          invocations.set(service, bucket);
        }
      }
    }
  }
  otlp.answerDelayMs = 0;
  const medians = (byVariant: Record<FlushVariant, number[]>) =>
    Object.fromEntries(
      Object.entries(byVariant).map(([variant, values]) => [variant, median(values)]),
    ) as Record<FlushVariant, number>;
  return {
    delayMs: FLUSH_DELAY_MS,
    orderMs: medians(orderMs),
    invocationMs: Object.fromEntries(
      [...invocations].map(([service, byVariant]) => [service, medians(byVariant)]),
    ),
  };
}

/** `npm run bench:deployed`: this part alone. Options: --runs N (cold starts per function and mode), --orders N. */
if (require.main === module) {
  const { number } = optionsOf(process.argv);
  measureDeployed({
    coldRuns: number('runs', 5),
    flushOrders: number('orders', 20),
    log: (line) => process.stderr.write(`${line}\n`),
  })
    .then((results) => console.log(JSON.stringify(results)))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
