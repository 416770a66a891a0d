import { readSettings } from '../shared/config/settings';
import { documentClient } from '../shared/data/dynamodb';
import { commitEndpoint, releaseEndpoint } from '../shared/http/reservation-endpoints';
import { httpRouter } from '../shared/http/router';
import { registerPrimer } from '../shared/runtime/priming';
import { WarehouseService } from './service';

const env = readSettings(['WAREHOUSE_STOCK_TABLE', 'WAREHOUSE_RESERVATIONS_TABLE']);
const warehouse = new WarehouseService(documentClient, {
  stock: env.WAREHOUSE_STOCK_TABLE,
  reservations: env.WAREHOUSE_RESERVATIONS_TABLE,
});
registerPrimer(...warehouse.primers());

export const handler = httpRouter({
  'POST /warehouse/reserve': async ({ body }) => {
    const allocations = await warehouse.reserve(body);
    return { statusCode: 200, body: { status: 'reserved', allocations } };
  },
  'POST /warehouse/release': releaseEndpoint((orderId) => warehouse.release(orderId)),
  'POST /warehouse/commit': commitEndpoint((orderId) => warehouse.commit(orderId)),
});
