import * as z from 'zod';

/**
 * The wire contracts between functions: each route's request and answer (API, at the end). Requests are
 * strict: an unknown field is an error, not something silently dropped.
 */
export const LIMITS = {
  maxItems: 25,
  maxQuantity: 1_000,
  maxAmount: 1_000_000,
  maxBodyBytes: 16 * 1024,
} as const;

export const PAYMENT_METHODS = ['credit_card', 'debit_card', 'paypal', 'bank_transfer'] as const;

const identifier = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"');

/** The seed sends `"user_id": "123"`; numbers are accepted too and normalised to a string. */
export const userId = z
  .union([identifier, z.number().int().positive().max(Number.MAX_SAFE_INTEGER)])
  .transform(String);

/**
 * Money on the wire: a decimal string ("49.99") or a JSON number, with at most two decimals either way. A
 * number is judged by its shortest decimal form, so 0.30000000000000004 is refused, not rounded. The value
 * is exact: integer cents, divided by 100 only for display (formatCents).
 */
export const amount = z
  .union([z.number().transform((value) => String(value)), z.string()])
  .pipe(
    z
      .string()
      .regex(/^\d{1,9}(\.\d{1,2})?$/, 'must be a decimal number with at most two decimals, such as "49.99"'),
  )
  .transform(centsOf)
  .pipe(
    z
      .number()
      .positive('must be greater than 0')
      .max(LIMITS.maxAmount * 100, `must be at most ${LIMITS.maxAmount}`),
  );

/** "49.99" → 4999, by string arithmetic: no float ever holds the amount. */
export function centsOf(decimal: string): number {
  const [whole = '0', fraction = ''] = decimal.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

/** 4999 → "49.99". */
export function formatCents(cents: number): string {
  return `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
}

export const orderId = z.uuid('must be an order id (UUID)');

export const lineItem = z.strictObject({
  item_id: identifier,
  quantity: z
    .number('must be a number')
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(LIMITS.maxQuantity, `must be at most ${LIMITS.maxQuantity}`),
});

const lineItems = z
  .array(lineItem)
  .min(1, 'must hold at least one item')
  .max(LIMITS.maxItems, `must hold at most ${LIMITS.maxItems} items`)
  .refine(
    (items) => new Set(items.map((item) => item.item_id)).size === items.length,
    'must not repeat an item_id',
  );

/** Optional card details; only ever stored or logged as the last four digits. */
export const card = z.strictObject({
  number: z.string().regex(/^\d{12,19}$/, 'must be 12-19 digits'),
  expiry: z.string().regex(/^(0[1-9]|1[0-2])\/\d{2}$/, 'must be MM/YY'),
});

export const orderRequest = z.strictObject({
  user_id: userId,
  items: lineItems,
  /** What the client expects to pay: a check against the server's total, never an input to it. */
  amount: amount.optional(),
  payment_method: z.enum(PAYMENT_METHODS, `must be one of ${PAYMENT_METHODS.join(', ')}`),
  shipping_address: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  card: card.optional(),
});
export type OrderRequest = z.output<typeof orderRequest>;

export const orderPath = z.strictObject({ id: orderId });

export const reservationRequest = z.strictObject({
  order_id: orderId,
  items: lineItems,
  /** The order's deadline: past it, a hold whose order did not complete is abandoned (see the reaper). */
  hold_until: z.iso.datetime({ message: 'must be an ISO 8601 UTC timestamp' }).optional(),
  /** The client's expected total, in cents: a reservation whose catalog total differs is refused first. */
  expected_total_cents: z.number().int().positive().optional(),
});
export type ReservationRequest = z.output<typeof reservationRequest>;

export const releaseRequest = z.strictObject({ order_id: orderId });
export type ReleaseRequest = z.output<typeof releaseRequest>;

/** Money between functions is integer cents, decided by the server (the catalog), never by the client. */
const cents = z
  .number()
  .int('must be whole cents')
  .positive('must be greater than 0')
  .max(LIMITS.maxAmount * 100, `must be at most ${LIMITS.maxAmount * 100}`);

export const paymentRequest = z.strictObject({
  order_id: orderId,
  user_id: userId,
  amount_cents: cents,
  payment_method: z.enum(PAYMENT_METHODS),
  card_last4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
});
export type PaymentRequest = z.output<typeof paymentRequest>;

export const fraudRequest = paymentRequest.omit({ card_last4: true });
export type FraudRequest = z.output<typeof fraudRequest>;

/*
 * What each route answers on success. A caller parses the answer with these, so a callee that drifts from
 * its contract fails the call loudly (a 502 naming the callee) instead of passing a wrong shape along.
 * Answers are not strict: fields a caller does not know (the callee's trace_id) are dropped, not errors.
 */
export const allocation = z.object({
  item_id: z.string(),
  location: z.string(),
  quantity: z.number().int().positive(),
});
export type Allocation = z.output<typeof allocation>;

export const warehouseReservation = z.object({
  status: z.literal('reserved'),
  allocations: z.array(allocation),
});

export const reservedLine = z.object({
  item_id: z.string(),
  quantity: z.number().int().positive(),
  /** The catalog price of one unit, in cents, as the reservation was priced. */
  unit_price_cents: z.number().int().nonnegative(),
  availability: z.number().optional(),
});
export type ReservedLine = z.output<typeof reservedLine>;

export const inventoryReservation = z.object({
  status: z.literal('reserved'),
  items: z.array(reservedLine),
  /** Σ quantity × unit price, in cents: what the order costs. */
  total_cents: z.number().int().positive(),
  allocations: z.array(allocation),
});
export type InventoryReservation = z.output<typeof inventoryReservation>;

/** Releases are idempotent: a second release of the same order answers `nothing_to_release`. */
export const releaseResult = z.object({
  status: z.enum(['released', 'nothing_to_release']),
  released: z.array(z.unknown()),
});
export type ReleaseResult = z.output<typeof releaseResult>;

/** Commits are idempotent too: committing a committed reservation answers the same. */
export const commitResult = z.object({ status: z.literal('committed') });
export type CommitResult = z.output<typeof commitResult>;

export const FRAUD_VERDICTS = ['legitimate', 'fraudulent'] as const;
/** `status` says the check ran, as every other answer's does; what it found is the verdict. */
export const fraudAssessment = z.object({
  status: z.literal('checked'),
  verdict: z.enum(FRAUD_VERDICTS),
  reason: z.enum(['blocked_user', 'random_sample', 'passed']),
});
export type FraudAssessment = z.output<typeof fraudAssessment>;

export const paymentAuthorization = z.object({
  status: z.literal('authorized'),
  authorization_id: z.string().min(1),
});
export type PaymentAuthorization = z.output<typeof paymentAuthorization>;

/** A priced line of an order, as clients see it: money as decimal strings, exact. */
export const pricedLine = z.object({
  item_id: z.string(),
  quantity: z.number().int().positive(),
  unit_price: z.string(),
  line_total: z.string(),
});
export type PricedLine = z.output<typeof pricedLine>;

export const orderCreated = z.looseObject({
  status: z.literal('success'),
  message: z.string(),
  order_id: orderId,
  /** The server's total ("49.99"), which payment authorized. */
  total: z.string(),
  lines: z.array(pricedLine),
});
export type OrderCreated = z.output<typeof orderCreated>;

/** The recorded order as callers see it (see order/service.ts's OrderView); passed through to the client. */
/**
 * What anyone holding an order id may read on the public route: the order's state and contents, never who
 * placed it, how it was paid, the internal reason for a failure, or its trace. The internal route
 * (`GET /order/{id}`, IAM-signed when deployed) answers this and the rest (`orderView`).
 */
export const customerOrderView = z.strictObject({
  order_id: orderId,
  status: z.enum(['PENDING', 'RESERVED', 'COMPLETED', 'FAILED']),
  items: z.array(z.object({ item_id: z.string(), quantity: z.number() })),
  total: z.string().optional(),
  lines: z.array(pricedLine).optional(),
  created_at: z.string(),
  updated_at: z.string(),
  failure_category: z.string().optional(),
});
export type CustomerOrderView = z.output<typeof customerOrderView>;

export const orderView = customerOrderView.loose();

/**
 * The routes of a service that holds stock for orders (inventory, warehouse): one reservation ledger, so one
 * contract, but for what its reservation answers.
 */
type StockHolderRoutes<Service extends string, Reservation extends z.ZodType> = Record<
  `POST /${Service}/reserve`,
  { body: typeof reservationRequest; response: Reservation }
> &
  Record<`POST /${Service}/release`, { body: typeof releaseRequest; response: typeof releaseResult }> &
  Record<`POST /${Service}/commit`, { body: typeof releaseRequest; response: typeof commitResult }>;

function stockHolderRoutes<Service extends string, Reservation extends z.ZodType>(
  service: Service,
  reservation: Reservation,
): StockHolderRoutes<Service, Reservation> {
  return {
    [`POST /${service}/reserve`]: { body: reservationRequest, response: reservation },
    [`POST /${service}/release`]: { body: releaseRequest, response: releaseResult },
    [`POST /${service}/commit`]: { body: releaseRequest, response: commitResult },
  } as StockHolderRoutes<Service, Reservation>;
}

/**
 * Every route of every function, keyed as API Gateway names them ("METHOD /resource"), with what it takes
 * and what it answers. Handlers implement these keys (httpRouter) and callers call them (ServiceClient):
 * a route's request and response types come from here and nowhere else.
 */
export const API = {
  'POST /api/order': { body: orderRequest, response: orderCreated },
  'GET /api/order/{id}': { params: orderPath, response: customerOrderView },
  'POST /order': { body: orderRequest, response: orderCreated },
  'GET /order/{id}': { params: orderPath, response: orderView },
  ...stockHolderRoutes('inventory', inventoryReservation),
  ...stockHolderRoutes('warehouse', warehouseReservation),
  'POST /payment/authorize': { body: paymentRequest, response: paymentAuthorization },
  'POST /fraud/check': { body: fraudRequest, response: fraudAssessment },
} as const;

export type ApiRoute = keyof typeof API;
type Contract<K extends ApiRoute> = (typeof API)[K];
export type BodyOf<K extends ApiRoute> =
  Contract<K> extends { body: z.ZodType } ? z.output<Contract<K>['body']> : undefined;
export type ParamsOf<K extends ApiRoute> =
  Contract<K> extends { params: z.ZodType } ? z.output<Contract<K>['params']> : undefined;
export type ResponseOf<K extends ApiRoute> = z.output<Contract<K>['response']>;
export type PostRoute = Extract<ApiRoute, `POST ${string}`>;
export type GetRoute = Extract<ApiRoute, `GET ${string}`>;
