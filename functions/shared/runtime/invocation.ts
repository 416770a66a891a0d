import { AsyncLocalStorage } from 'node:async_hooks';

/** What is known about the invocation in progress: read by the logger and the HTTP client. */
export interface Invocation {
  traceId: string;
  /** Epoch milliseconds after which the platform kills this invocation. */
  deadline: number;
  orderId?: string;
}

const storage = new AsyncLocalStorage<Invocation>();

export function runInvocation<T>(invocation: Invocation, fn: () => Promise<T>): Promise<T> {
  return storage.run(invocation, fn);
}

export function currentInvocation(): Invocation | undefined {
  return storage.getStore();
}

/** Milliseconds left before the deadline; Infinity outside an invocation (scripts, unit tests). */
export function remainingMs(): number {
  const invocation = storage.getStore();
  return invocation ? invocation.deadline - Date.now() : Number.POSITIVE_INFINITY;
}
