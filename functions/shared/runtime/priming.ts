import { context } from '@opentelemetry/api';

/**
 * Work an instance can do before its first request, so that request does not pay for it: the first call of
 * a client costs 40–55 ms (the SDK's and axios's first request: their code paths' first run and a new
 * connection) against 7–18 ms after. The modules that own a client register a cheap call that changes
 * nothing; offline prewarming (local-runtime/prewarm.cjs) runs them after loading the handler, as an init phase
 * would. Deployed, nothing runs them (so no role needs the actions they use).
 */
/** A cheap call that changes nothing, made once so that a client's first real call is not its first. */
export type Primer = () => Promise<unknown>;

const primers: Primer[] = [];

/** Called by the module that creates a client, or by a handler for the objects it builds: never by those objects. */
export function registerPrimer(...added: Primer[]): void {
  primers.push(...added);
}

/** Runs every registered primer once, untraced (they are nobody's request), ignoring their failures. */
export async function prime(): Promise<number> {
  // Required here, not at load: an instance that is never prewarmed (or untraced) need not load the SDK core.
  const { suppressTracing } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  await context.with(suppressTracing(context.active()), () =>
    Promise.allSettled(primers.map((primer) => primer())),
  );
  return primers.length;
}

/** A key no item has: the primers' conditional writes on it always fail, so they never write anything. */
export const PRIMING_KEY = '__priming__';
