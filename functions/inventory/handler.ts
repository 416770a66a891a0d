import { readSettings } from '../shared/config/settings';
import { documentClient } from '../shared/data/dynamodb';
import { commitEndpoint, releaseEndpoint } from '../shared/http/reservation-endpoints';
import { httpRouter } from '../shared/http/router';
import { createServiceClient } from '../shared/http/service-client';
import { registerPrimer } from '../shared/runtime/priming';
import { InventoryService } from './service';

const env = readSettings(['INVENTORY_TABLE', 'INVENTORY_RESERVATIONS_TABLE']);
const inventory = new InventoryService(
  documentClient,
  { inventory: env.INVENTORY_TABLE, reservations: env.INVENTORY_RESERVATIONS_TABLE },
  createServiceClient('warehouse-service'),
);
registerPrimer(...inventory.primers());

export const handler = httpRouter({
  'POST /inventory/reserve': async ({ body }) => {
    return { statusCode: 200, body: await inventory.reserve(body) };
  },
  'POST /inventory/release': releaseEndpoint((orderId) => inventory.release(orderId)),
  'POST /inventory/commit': commitEndpoint((orderId) => inventory.commit(orderId)),
});
