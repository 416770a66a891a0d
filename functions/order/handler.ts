import { readSettings } from '../shared/config/settings';
import { documentClient } from '../shared/data/dynamodb';
import { DynamoOrderStore } from '../shared/data/order-store';
import { httpRouter } from '../shared/http/router';
import { createServiceClient } from '../shared/http/service-client';
import { registerPrimer } from '../shared/runtime/priming';
import { createOrder, findOrder } from './service';

const env = readSettings(['ORDERS_TABLE', 'ORDER_ABANDON_MARGIN_SECONDS']);
const deps = {
  store: new DynamoOrderStore(documentClient, env.ORDERS_TABLE),
  inventory: createServiceClient('inventory-service'),
  payment: createServiceClient('payment-service'),
  abandonMarginMs: env.ORDER_ABANDON_MARGIN_SECONDS * 1000,
};

registerPrimer(...deps.store.primers());

export const handler = httpRouter({
  'POST /order': async ({ body }) => {
    const order = await createOrder(body, deps);
    return {
      statusCode: 201,
      body: {
        status: 'success',
        message: `Order ${order.order_id} created and payment authorized`,
        order_id: order.order_id,
        total: order.total,
        lines: order.lines,
      },
    };
  },
  'GET /order/{id}': async ({ params }) => ({
    statusCode: 200,
    body: await findOrder(params.id, deps.store),
  }),
});
