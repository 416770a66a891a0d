import { z } from 'zod';
import { documentClient } from '../shared/dynamodb';
import { loadEnv } from '../shared/env';
import { httpRouter, route } from '../shared/lambda-http';
import { releaseRoute } from '../shared/reservation-ledger';
import { reservationRequest } from '../shared/schemas';
import { createServiceClient } from '../shared/service-client';
import { annotate } from '../shared/telemetry';
import { InventoryService } from './service';

const env = loadEnv({
  INVENTORY_TABLE: z.string().min(1),
  INVENTORY_RESERVATIONS_TABLE: z.string().min(1),
});
const inventory = new InventoryService(
  documentClient,
  { inventory: env.INVENTORY_TABLE, reservations: env.INVENTORY_RESERVATIONS_TABLE },
  createServiceClient('warehouse-service'),
);

export const handler = httpRouter({
  'POST /inventory/check': route({
    body: reservationRequest,
    handle: async ({ body }) => {
      annotate({ 'order.id': body.order_id });
      return { statusCode: 200, body: { ...(await inventory.reserve(body)) } };
    },
  }),
  'POST /inventory/release': releaseRoute((orderId) => inventory.release(orderId)),
});
