/**
 * Cold start per function, traced and untraced: a new instance of one function, started in the floor as
 * serverless offline starts one (a worker thread with the instances' Node options and the tracing preload),
 * meets the next order; the rest of the floor is warm. Each instance then serves more orders, and its own memory is read.
 */

import { MANIFESTS, ORDER_PATH_SERVICES } from '../lib/manifests';
import type { ColdStart } from './floor-server';
import { order } from './load';
import { median } from './stats';
import type { FloorTarget } from './targets';

export type Tracing = 'untraced' | 'traced';

export interface ColdStartFigures {
  /** Medians over the instances, in ms. */
  bootMs: number;
  loadMs: number;
  firstInvokeMs: number;
  totalMs: number;
  /** The instance's heap and external memory after its orders (its isolate's own), median, MB. */
  instanceMb: number;
}

export type ColdStartResults = Record<string, Record<Tracing, ColdStartFigures>>;

/** The serverless.yml keys of the functions an order passes through, in call order. */
const ORDER_PATH_KEYS = ORDER_PATH_SERVICES.map(
  (service) => MANIFESTS.find((manifest) => manifest.service === service)?.key as string,
);

export async function measureColdStarts(options: {
  floor: FloorTarget;
  instances: number;
  ordersPerInstance: number;
  telemetry: { otlp: string; loki: string };
  restock: () => Promise<void>;
}): Promise<ColdStartResults> {
  const { floor } = options;
  const env: Record<Tracing, NodeJS.ProcessEnv> = {
    untraced: { OTEL_SDK_DISABLED: 'true', LOKI_URL: '' },
    traced: {
      OTEL_SDK_DISABLED: 'false',
      OTEL_EXPORTER_OTLP_ENDPOINT: options.telemetry.otlp,
      LOKI_URL: options.telemetry.loki,
    },
  };
  const results: ColdStartResults = {};
  for (const key of ORDER_PATH_KEYS) {
    const samples: Record<Tracing, Array<ColdStart & { instanceMb: number }>> = { untraced: [], traced: [] };
    for (let round = 0; round < options.instances; round++) {
      // Alternating which goes first, so that neither always follows the other's instance.
      const sequence: Tracing[] = round % 2 ? ['traced', 'untraced'] : ['untraced', 'traced'];
      for (const tracing of sequence) {
        await options.restock();
        const instance = await floor.newInstance(key, env[tracing]);
        const first = await order(floor.url);
        if (!first.ok) throw new Error(`cold start of ${key} (${tracing}): the order through it failed`);
        const coldStart = await instance.coldStart();
        for (let sent = 1; sent < options.ordersPerInstance; sent++) await order(floor.url);
        const memory = await instance.memoryUsage();
        samples[tracing].push({ ...coldStart, instanceMb: (memory.heapTotal + memory.external) / 2 ** 20 });
        process.stderr.write(
          `  cold start ${key} (${tracing}) ${round + 1}/${options.instances}: ${coldStart.totalMs.toFixed(0)} ms\n`,
        );
      }
    }
    const figures = (list: Array<ColdStart & { instanceMb: number }>): ColdStartFigures => ({
      bootMs: median(list.map((s) => s.bootMs)),
      loadMs: median(list.map((s) => s.loadMs)),
      firstInvokeMs: median(list.map((s) => s.firstInvokeMs)),
      totalMs: median(list.map((s) => s.totalMs)),
      instanceMb: median(list.map((s) => s.instanceMb)),
    });
    results[key] = { untraced: figures(samples.untraced), traced: figures(samples.traced) };
  }
  return results;
}
