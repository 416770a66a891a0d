import { z } from 'zod';
import { documentClient } from '../shared/dynamodb';
import { loadEnv } from '../shared/env';
import { httpRouter, route } from '../shared/lambda-http';
import { orderPath, orderRequest } from '../shared/schemas';
import { createServiceClient } from '../shared/service-client';
import { DynamoOrderStore } from './repository';
import { createOrder, findOrder } from './service';

const env = loadEnv({ ORDERS_TABLE: z.string().min(1) });
const deps = {
  store: new DynamoOrderStore(documentClient, env.ORDERS_TABLE),
  inventory: createServiceClient('inventory-service'),
  payment: createServiceClient('payment-service'),
};

export const handler = httpRouter({
  'POST /order': route({
    body: orderRequest,
    handle: async ({ body }) => {
      const order = await createOrder(body, deps);
      return {
        statusCode: 201,
        body: {
          status: 'success',
          message: `Order ${order.order_id} created and payment authorized`,
          order_id: order.order_id,
        },
      };
    },
  }),
  'GET /order/{id}': route({
    params: orderPath,
    handle: async ({ params }) => ({
      statusCode: 200,
      body: { ...(await findOrder(params.id, deps.store)) },
    }),
  }),
});
