import { z } from 'zod';

/**
 * The wire contracts between functions, one schema each. Objects are strict: an unknown field is an error,
 * not something silently dropped.
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

/** Money in the seed is a string ("49.99"); accept a number or a decimal string with at most two decimals. */
export const amount = z
  .union([z.number(), z.string().regex(/^\d{1,9}(\.\d{1,2})?$/, 'must be a decimal number such as "49.99"')])
  .transform(Number)
  .pipe(
    z
      .number()
      .positive('must be greater than 0')
      .max(LIMITS.maxAmount, `must be at most ${LIMITS.maxAmount}`)
      .refine(
        (value) =>
          Number.isInteger(Math.round(value * 100)) && Math.abs(value * 100 - Math.round(value * 100)) < 1e-6,
        'must have at most two decimals',
      ),
  );

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
  amount,
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
});
export type ReservationRequest = z.output<typeof reservationRequest>;

export const releaseRequest = z.strictObject({ order_id: orderId });
export type ReleaseRequest = z.output<typeof releaseRequest>;

export const paymentRequest = z.strictObject({
  order_id: orderId,
  user_id: userId,
  amount,
  payment_method: z.enum(PAYMENT_METHODS),
  card_last4: z
    .string()
    .regex(/^\d{4}$/)
    .optional(),
});
export type PaymentRequest = z.output<typeof paymentRequest>;

export const fraudRequest = paymentRequest.omit({ card_last4: true });
export type FraudRequest = z.output<typeof fraudRequest>;
