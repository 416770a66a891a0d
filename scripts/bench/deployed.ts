/**
 * The deployed artifact's cost, measured the way the deployed-contract tier runs it (scripts/deployed/deployed-stack.ts):
 * the prod package, each function a fresh Node process on the runtime's loop, behind the template's API.
 * - Cold start per function, traced against untraced: one function's sandbox at a time is replaced by a fresh
 *   one (process start → init → its first invocation) while the others stay warm, in the same mode; the
 *   modes alternate. The first invocation is the function's part of a real order (the reaper: a schedule
 *   event), so for a function with callees it includes their warm answers.
 * - Telemetry on the response path: orders run untraced, and traced in both export modes (TELEMETRY_EXPORT):
 *   after the response (the default: an internal extension exports once the answer is posted, before the
 *   sandbox freezes) and before it (the instrumentation's flush, so an OTLP round trip is added to every hop,
 *   and the hops are serial), each with a receiver that answers at once and one 50 ms away, interleaved. Each
 *   order's latency at the client, and its billed duration: the sum over its invocations of start to end
 *   (the runtime and every extension done), which includes an export after the response.
 */

import { readFileSync } from 'node:fs';
import JSZip from 'jszip';
import { CODE_CACHE_DIR, codeCacheFolder } from '../../functions/shared/telemetry/code-cache';
import { scheduleEvent } from '../deployed/api';
import { DeployedStack } from '../deployed/deployed-stack';
import { createStageTables, type Packaged, packageStage, removeDirs } from '../deployed/package';
import type { InvocationOutcome } from '../deployed/sandbox';
import { SsmStandIn } from '../deployed/ssm-stand-in';
import { startDynamoDbLocal } from '../lib/dynamodb-local';
import { MANIFESTS } from '../lib/manifests';
import { placeOrder } from '../lib/orders';
import { OtlpEndpoint } from '../lib/otlp-receivers';
import { freePort } from '../lib/ports';
import { optionsOf } from './options';
import { median } from './stats';
import { buildWorktree, removeWorktree } from './worktree';

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
  coldStart: Record<
    string,
    Record<ColdMode, ColdPhases> & {
      /** Median of each run's traced-minus-untraced difference (both with the package's compile cache). */
      addedMs: number;
      /** Median of each run's without-minus-with cache difference, untraced and traced. */
      cacheSavesMs: { untraced: number; traced: number };
    }
  >;
  /**
   * Per variant: one order end to end at the client (median ms), its billed duration (median of the sum of its
   * invocations' durations, ms) and, by service, one warm invocation from handed out to answered (median ms).
   */
  flush: {
    delayMs: number;
    orderMs: Record<FlushVariant, number>;
    billedMs: Record<FlushVariant, number>;
    invocationMs: Record<string, Record<FlushVariant, number>>;
  };
  /** With `before`: one order untraced at the client (median ms), this build and the one before, alternating. */
  comparison?: { before: string; orderMs: { thisBuild: number; before: number } };
}

/** untraced, traced (exporting after the response, the default), traced exporting before the response. */
type Mode = 'untraced' | 'traced' | 'traced_before' | 'untraced_no_cache' | 'traced_no_cache';
export const FLUSH_VARIANTS = [
  'untraced',
  'traced',
  'traced_far',
  'traced_before',
  'traced_before_far',
] as const;
type FlushVariant = (typeof FLUSH_VARIANTS)[number];
/** Each variant's stack and how far away its receiver is. */
const VARIANT_SETUP: Record<FlushVariant, [Mode, keyof typeof RECEIVER_DELAY_MS]> = {
  untraced: ['untraced', 'near'],
  traced: ['traced', 'near'],
  traced_far: ['traced', 'far'],
  traced_before: ['traced_before', 'near'],
  traced_before_far: ['traced_before', 'far'],
};

const FLUSH_DELAY_MS = 50;
/** How late the receiver answers: near, or an OTLP endpoint 50 ms away. */
const RECEIVER_DELAY_MS = { near: 0, far: FLUSH_DELAY_MS };
/** The function that runs on a schedule: it has no route to reach it through an order. */
const SCHEDULED_SERVICE = MANIFESTS.find((manifest) => manifest.schedule)?.service;
/**
 * The functions a table's stream triggers: their first invocation here is an empty batch, so it measures init and
 * the batch processor's first run, not a first commit (the order's stream is not emulated by this bench).
 */
const STREAM_SERVICES = MANIFESTS.filter((manifest) => manifest.stream).map((manifest) => manifest.service);

export async function measureDeployed(options: {
  coldRuns: number;
  flushOrders: number;
  log: (line: string) => void;
  /** A git ref whose build's order latency, untraced, is measured beside this one's. */
  before?: string;
}): Promise<DeployedResults> {
  const packaged = await packageStage('prod');
  const beforeRoot = options.before ? buildWorktree(options.before) : undefined;
  const packagedBefore = beforeRoot ? await packageStage('prod', {}, undefined, beforeRoot) : undefined;
  let beforeStack: DeployedStack | undefined;
  const dynamo = await startDynamoDbLocal({ port: await freePort(), inMemory: true });
  const otlp = await new OtlpEndpoint({ acknowledgeOnly: true }).start();
  const ssm = await new SsmStandIn({
    '/orders/prod/otlp-headers': 'authorization=Basic%20YmVuY2g6YmVuY2g=',
  }).start();
  const stacks: Partial<Record<Mode, DeployedStack>> = {};
  /** Every invocation that ended, by stack: an order's billed duration is read from them. */
  const ended: Record<Mode, InvocationOutcome[]> = {
    untraced: [],
    traced: [],
    traced_before: [],
    untraced_no_cache: [],
    traced_no_cache: [],
  };
  try {
    await createStageTables(packaged, dynamo.endpoint);
    const common = {
      packaged,
      otlpEndpoint: otlp.url,
      dynamodbEndpoint: dynamo.endpoint,
      ssmEndpoint: ssm.url,
    };
    // No order is refused for fraud: every hop runs on every order.
    const untraced = { FRAUD_PERCENTAGE: '0', OTEL_SDK_DISABLED: 'true' };
    const traced = { FRAUD_PERCENTAGE: '0' };
    const setups: Record<Mode, { overrides: Record<string, string>; withoutCompileCache?: boolean }> = {
      untraced: { overrides: untraced },
      traced: { overrides: traced },
      traced_before: { overrides: { ...traced, TELEMETRY_EXPORT: 'before-response' } },
      untraced_no_cache: { overrides: untraced, withoutCompileCache: true },
      traced_no_cache: { overrides: traced, withoutCompileCache: true },
    };
    for (const [mode, setup] of Object.entries(setups) as Array<[Mode, (typeof setups)[Mode]]>) {
      stacks[mode] = await new DeployedStack({
        ...common,
        ...setup,
        onEnd: (_fn, outcome) => ended[mode].push(outcome),
      }).start();
    }
    const modes = stacks as Record<Mode, DeployedStack>;
    // Warm every variant: a sandbox still exporting when its function is called again makes Lambda start
    // another, and a steady stream of orders keeps those warm too.
    for (const variant of FLUSH_VARIANTS) {
      const [mode, distance] = VARIANT_SETUP[variant];
      otlp.answerDelayMs = RECEIVER_DELAY_MS[distance];
      for (let order = 0; order < 3; order++) await timeOrder(modes[mode]);
    }
    otlp.answerDelayMs = 0;
    for (const mode of ['untraced_no_cache', 'traced_no_cache'] as const) await timeOrder(modes[mode]);
    options.log(`deployed cold starts: ${options.coldRuns} per function and mode`);
    const coldStart = await measureColdStarts(modes, options.coldRuns);
    options.log(
      `deployed flush: ${options.flushOrders} orders per variant, receiver 0 and ${FLUSH_DELAY_MS} ms away`,
    );
    const flush = await measureFlush(modes, ended, otlp, options.flushOrders);
    /** This build against the one before, untraced, orders alternating between the two. */
    let comparison: DeployedResults['comparison'];
    if (packagedBefore && options.before) {
      beforeStack = await new DeployedStack({
        ...common,
        packaged: packagedBefore,
        overrides: untraced,
      }).start();
      for (let order = 0; order < 3; order++) await timeOrder(beforeStack);
      const thisBuild: number[] = [];
      const before: number[] = [];
      for (let order = 0; order < options.flushOrders; order++) {
        thisBuild.push(await timeOrder(modes.untraced));
        before.push(await timeOrder(beforeStack));
      }
      comparison = {
        before: options.before,
        orderMs: { thisBuild: median(thisBuild), before: median(before) },
      };
    }
    return { zipKb: await zipSizes(packaged), coldStart, flush, ...(comparison ? { comparison } : {}) };
  } finally {
    await beforeStack?.stop();
    if (packagedBefore) removeDirs(packagedBefore.dir);
    if (beforeRoot) removeWorktree(beforeRoot);
    for (const stack of Object.values(stacks)) await stack.stop();
    await otlp.stop();
    await ssm.stop();
    await dynamo.stop();
    removeDirs(packaged.dir);
  }
}

/**
 * Each zip's size as deployed, in KB: without the code cache for this machine's architecture that a package run
 * here carries (`codeCacheForThisMachine`), when the functions deploy on another.
 */
async function zipSizes(packaged: Packaged): Promise<Record<string, number>> {
  const thisMachine = `${CODE_CACHE_DIR}/${codeCacheFolder()}/`;
  const sizes = await Promise.all(
    packaged.functions.map(async (fn) => {
      const zip = await JSZip.loadAsync(readFileSync(fn.artifact));
      const names = Object.keys(zip.files);
      const caches = new Set(
        names.flatMap((name) => (name.startsWith(`${CODE_CACHE_DIR}/`) ? [name.split('/')[1]] : [])),
      );
      // Two folders: the deployed architecture's, and this machine's, which only a package run here carries.
      if (caches.size > 1) for (const name of names) if (name.startsWith(thisMachine)) zip.remove(name);
      const deployed = await zip.generateAsync({
        type: 'nodebuffer',
        compression: 'DEFLATE',
        compressionOptions: { level: 9 },
        platform: 'UNIX',
      });
      return [String(fn.variables.OTEL_SERVICE_NAME), Math.round(deployed.length / 1024)] as const;
    }),
  );
  return Object.fromEntries(sizes);
}

/** One order through the stack's API: answers its latency at the client, once all its invocations ended. */
async function timeOrder(stack: DeployedStack): Promise<number> {
  const { status, text, ms } = await placeOrder(`${stack.api.url}/prod`);
  if (status !== 201) throw new Error(`order answered ${status}: ${text}`);
  await stack.idle();
  return ms;
}

/** Cold starts: untraced and traced (the default set-up), each with and without the package's compile cache. */
const COLD_MODES = ['untraced', 'traced', 'untraced_no_cache', 'traced_no_cache'] as const;
type ColdMode = (typeof COLD_MODES)[number];

async function measureColdStarts(stacks: Record<ColdMode, DeployedStack>, runs: number) {
  const samples = new Map<string, Record<ColdMode, ColdPhases[]>>();
  for (let run = 0; run < runs; run++) {
    for (const fn of stacks.traced.functions) {
      const service = String(fn.variables.OTEL_SERVICE_NAME);
      // Each run rotates which mode goes first, so a drift of the machine weighs on every mode alike.
      const order = COLD_MODES.map((_, index) => COLD_MODES[(index + run) % COLD_MODES.length] as ColdMode);
      for (const mode of order) {
        const stack = stacks[mode];
        const sandbox = await stack.replace(fn.logicalId);
        await sandbox.initialized;
        // Lambda runs init, then the invocation: the request is sent once init is over.
        if (service === SCHEDULED_SERVICE) await sandbox.invoke(scheduleEvent(fn.functionName));
        else if (STREAM_SERVICES.includes(service)) await sandbox.invoke({ Records: [] });
        else await timeOrder(stack);
        const [first] = sandbox.answers;
        if (!first || sandbox.initDoneAt === undefined)
          throw new Error(`${service} (${mode}) did not answer`);
        const phases = {
          initMs: sandbox.initDoneAt - sandbox.spawnedAt,
          firstInvocationMs: first.answeredAt - first.startedAt,
          totalMs: first.answeredAt - first.startedAt + (sandbox.initDoneAt - sandbox.spawnedAt),
        };
        const bucket =
          samples.get(service) ??
          (Object.fromEntries(COLD_MODES.map((each) => [each, []])) as unknown as Record<
            ColdMode,
            ColdPhases[]
          >);
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
  /** The median of each run's `a` minus `b` (total ms): the runs pair the modes up. */
  const pairedDifference = (a: ColdPhases[], b: ColdPhases[]) =>
    median(a.map((phases, run) => phases.totalMs - (b[run]?.totalMs ?? Number.NaN)));
  return Object.fromEntries(
    [...samples].map(([service, byMode]) => [
      service,
      {
        ...(Object.fromEntries(COLD_MODES.map((mode) => [mode, medianOf(byMode[mode])])) as Record<
          ColdMode,
          ColdPhases
        >),
        addedMs: pairedDifference(byMode.traced, byMode.untraced),
        cacheSavesMs: {
          untraced: pairedDifference(byMode.untraced_no_cache, byMode.untraced),
          traced: pairedDifference(byMode.traced_no_cache, byMode.traced),
        },
      },
    ]),
  );
}

async function measureFlush(
  stacks: Record<Mode, DeployedStack>,
  ended: Record<Mode, InvocationOutcome[]>,
  otlp: OtlpEndpoint,
  orders: number,
) {
  const samples = () =>
    Object.fromEntries(FLUSH_VARIANTS.map((variant) => [variant, [] as number[]])) as Record<
      FlushVariant,
      number[]
    >;
  const orderMs = samples();
  const billedMs = samples();
  const invocations = new Map<string, Record<FlushVariant, number[]>>();
  for (let order = 0; order < orders; order++) {
    for (const variant of FLUSH_VARIANTS) {
      const [mode, distance] = VARIANT_SETUP[variant];
      otlp.answerDelayMs = RECEIVER_DELAY_MS[distance];
      const stack = stacks[mode];
      const from = ended[mode].length;
      orderMs[variant].push(await timeOrder(stack));
      const ofOrder = new Set(ended[mode].slice(from));
      // Lambda bills each invocation from its start to its end, rounded up to the millisecond.
      billedMs[variant].push(
        [...ofOrder].reduce((sum, outcome) => sum + Math.ceil((outcome.endedAt ?? 0) - outcome.startedAt), 0),
      );
      for (const fn of stack.functions) {
        const service = String(fn.variables.OTEL_SERVICE_NAME);
        for (const outcome of stack.sandbox(fn.logicalId).answers.filter((answer) => ofOrder.has(answer))) {
          const bucket = invocations.get(service) ?? samples();
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
    billedMs: medians(billedMs),
    invocationMs: Object.fromEntries(
      [...invocations].map(([service, byVariant]) => [service, medians(byVariant)]),
    ),
  };
}

/**
 * `npm run bench:deployed`: this part alone. Options: --runs N (cold starts per function and mode), --orders N,
 * --before <git ref> (one order untraced, this build against that one's package).
 */
if (require.main === module) {
  const { number } = optionsOf(process.argv);
  measureDeployed({
    coldRuns: number('runs', 5),
    flushOrders: number('orders', 20),
    log: (line) => process.stderr.write(`${line}\n`),
    before: optionsOf(process.argv).value('before'),
  })
    .then((results) => console.log(JSON.stringify(results)))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}
