import { context } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

/**
 * Work an instance can do before its first request, so that request does not pay for it: the first call of
 * a client costs 40–55 ms (the SDK's and axios's first request: their code paths' first run and a new
 * connection) against 7–18 ms after. The modules that own a client register a cheap, read-only call here;
 * offline prewarming (plugins/local-runtime.cjs) runs them after loading the handler, as an init phase would.
 */
const primers: Array<() => Promise<unknown>> = [];

export function registerPrimer(primer: () => Promise<unknown>): void {
  primers.push(primer);
}

/** Runs every registered primer once, untraced (they are nobody's request), ignoring their failures. */
export async function prime(): Promise<number> {
  await context.with(suppressTracing(context.active()), () =>
    Promise.allSettled(primers.map((primer) => primer())),
  );
  return primers.length;
}
