import * as z from 'zod';
import { readSettings } from '../shared/config/settings';
import {
  type CustomerOrderView,
  formatCents,
  type OrderCreated,
  type OrderRequest,
  type ResponseOf,
} from '../shared/contracts/schemas';
import { dynamoClient } from '../shared/data/dynamodb';
import {
  type FailureBody,
  failureResult,
  type HttpResult,
  httpRouter,
  validate,
} from '../shared/http/router';
import { createServiceClient } from '../shared/http/service-client';
import { annotate } from '../shared/telemetry/api';
import { IdempotentSubmitter } from './idempotency';

const env = readSettings(['IDEMPOTENCY_TABLE']);
const orders = createServiceClient('order-service');

const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'Idempotency-Key must be 1-128 printable ASCII characters without spaces')
    .optional(),
});

/** The order function's answer, success or failure, becomes the public answer. */
export type SubmitResult = HttpResult<OrderCreated> | HttpResult<FailureBody>;

async function submitOrder(body: OrderRequest): Promise<SubmitResult> {
  try {
    // The order function validates the request again, from the wire: the amount goes back as its decimal form.
    const { amount, ...rest } = body;
    const onTheWire = amount === undefined ? rest : { ...rest, amount: formatCents(amount) };
    const created = await orders.post('POST /order', onTheWire);
    return { statusCode: 201, body: created, headers: { location: `/api/order/${created.order_id}` } };
  } catch (error) {
    return failureResult(error);
  }
}

/** The public view of an order (schemas.ts says what it leaves out, and why). */
function customerView(order: ResponseOf<'GET /order/{id}'>): CustomerOrderView {
  const { order_id, status, items, total, lines, created_at, updated_at, failure_category } = order;
  return {
    order_id,
    status,
    items,
    ...(total ? { total } : {}),
    ...(lines ? { lines } : {}),
    created_at,
    updated_at,
    ...(failure_category ? { failure_category } : {}),
  };
}

const submitter = new IdempotentSubmitter<OrderRequest, SubmitResult>(
  dynamoClient,
  env.IDEMPOTENCY_TABLE,
  submitOrder,
);

export const handler = httpRouter({
  'POST /api/order': async ({ body }, request) => {
    const key = validate(idempotencyHeader, request.headers, 'headers')['idempotency-key'];
    const result = key ? await submitter.submit(key, body, request.context) : await submitOrder(body);
    annotate(
      result.body.status === 'success'
        ? { 'order.status': 'success', 'order.id': result.body.order_id }
        : { 'order.status': 'failed', 'order.failure_category': result.body.category },
    );
    return result;
  },
  'GET /api/order/{id}': async ({ params }) => ({
    statusCode: 200,
    body: customerView(await orders.get('GET /order/{id}', params)),
  }),
});
