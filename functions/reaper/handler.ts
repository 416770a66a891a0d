import { readSettings } from '../shared/config/settings';
import { documentClient } from '../shared/data/dynamodb';
import { DynamoOrderStore } from '../shared/data/order-store';
import { createServiceClient } from '../shared/http/service-client';
import { registerPrimer } from '../shared/runtime/priming';
import { scheduledHandler } from '../shared/schedule/scheduled-handler';
import { reapAbandonedOrders } from './service';

const env = readSettings(['ORDERS_TABLE', 'REAPER_BATCH_SIZE']);
const deps = {
  store: new DynamoOrderStore(documentClient, env.ORDERS_TABLE),
  inventory: createServiceClient('inventory-service'),
  batchSize: env.REAPER_BATCH_SIZE,
};

/** Runs on a schedule: every minute deployed, every REAPER_INTERVAL_SECONDS offline. */
registerPrimer(...deps.store.primers());

export const handler = scheduledHandler(async () => ({ ...(await reapAbandonedOrders(deps)) }));
