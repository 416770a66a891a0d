import ERROR_CATEGORIES from './error-categories.json';

/**
 * Every failure a caller can see has a category. The category alone decides the HTTP status, here and
 * nowhere else, so that each function and each hop between functions agree on what a failure means. The
 * table is JSON because the deployed API's own answers (local-runtime/gateway-responses.cjs) use it too,
 * before anything is compiled. Two categories need a word: `committed` refuses a release of stock an order
 * has sold; `throttled` is a function at its concurrency limit (Lambda throttled the call).
 */
export const STATUS_BY_CATEGORY = ERROR_CATEGORIES.statusByCategory;

export type ErrorCategory = keyof typeof STATUS_BY_CATEGORY;

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  override readonly name = 'DomainError';

  constructor(
    readonly category: ErrorCategory,
    message: string,
    readonly fieldErrors?: FieldError[],
  ) {
    super(message);
  }

  get status(): number {
    return STATUS_BY_CATEGORY[this.category];
  }
}

/** How long a throttled caller should wait before trying again, in seconds (the `Retry-After` header). */
export const THROTTLE_RETRY_AFTER_SECONDS = ERROR_CATEGORIES.throttleRetryAfterSeconds;

export function isErrorCategory(value: unknown): value is ErrorCategory {
  return typeof value === 'string' && Object.hasOwn(STATUS_BY_CATEGORY, value);
}

/** Failures that mean "the outcome downstream is unknown", after which a saga must compensate. */
export function isAmbiguousFailure(error: unknown): boolean {
  return (
    !(error instanceof DomainError) ||
    error.category === 'downstream_failure' ||
    error.category === 'downstream_timeout' ||
    error.category === 'internal'
  );
}
