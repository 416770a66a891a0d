/**
 * Every failure a caller can see has a category. The category alone decides the HTTP status, here and
 * nowhere else, so that each function and each hop between functions agree on what a failure means.
 */
export const STATUS_BY_CATEGORY = {
  validation: 400,
  payment_declined: 402,
  fraud_detected: 403,
  not_found: 404,
  method_not_allowed: 405,
  out_of_stock: 409,
  conflict: 409,
  /** A release of stock that an order has already sold. */
  committed: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_conflict: 422,
  internal: 500,
  downstream_failure: 502,
  downstream_timeout: 504,
} as const;

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
