import { z } from 'zod';
import { dynamoClient } from '../shared/dynamodb';
import { loadEnv } from '../shared/env';
import { failureResult, type HttpResult, httpRouter, route, validate } from '../shared/lambda-http';
import { type OrderRequest, orderPath, orderRequest } from '../shared/schemas';
import { createServiceClient } from '../shared/service-client';
import { annotate } from '../shared/telemetry';
import { IdempotentSubmitter } from './idempotency';

const env = loadEnv({ IDEMPOTENCY_TABLE: z.string().min(1) });
const orders = createServiceClient('order-service');

const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,128}$/, 'Idempotency-Key must be 1-128 printable ASCII characters without spaces')
    .optional(),
});

/** The order function's answer, success or failure, becomes the public answer. */
async function submitOrder(body: OrderRequest): Promise<HttpResult> {
  try {
    const created = await orders.post<Record<string, unknown>>('/order', body);
    return { statusCode: 201, body: created, headers: { location: `/api/order/${created.order_id}` } };
  } catch (error) {
    return failureResult(error);
  }
}

const submitter = new IdempotentSubmitter<OrderRequest>(dynamoClient, env.IDEMPOTENCY_TABLE, submitOrder);

export const handler = httpRouter({
  'POST /api/order': route({
    body: orderRequest,
    handle: async ({ body }, request) => {
      const key = validate(idempotencyHeader, request.headers, 'headers')['idempotency-key'];
      const result = key ? await submitter.submit(key, body, request.context) : await submitOrder(body);
      annotate(
        result.body.status === 'success'
          ? { 'order.status': 'success', 'order.id': String(result.body.order_id) }
          : { 'order.status': 'failed', 'order.failure_category': String(result.body.category) },
      );
      return result;
    },
  }),
  'GET /api/order/{id}': route({
    params: orderPath,
    handle: async ({ params }) => ({
      statusCode: 200,
      body: await orders.get<Record<string, unknown>>(`/order/${params.id}`),
    }),
  }),
});
