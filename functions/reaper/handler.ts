import * as z from 'zod';
import { integerSetting, loadEnv } from '../shared/config/env';
import { documentClient } from '../shared/data/dynamodb';
import { DynamoOrderStore } from '../shared/data/order-store';
import { createServiceClient } from '../shared/http/service-client';
import { registerPrimer } from '../shared/runtime/priming';
import { scheduledHandler } from '../shared/schedule/scheduled-handler';
import { reapAbandonedOrders } from './service';

const env = loadEnv({
  ORDERS_TABLE: z.string().min(1),
  REAPER_BATCH_SIZE: integerSetting(100, { min: 1, max: 1_000 }),
});
const deps = {
  store: new DynamoOrderStore(documentClient, env.ORDERS_TABLE),
  inventory: createServiceClient('inventory-service'),
  batchSize: env.REAPER_BATCH_SIZE,
};

/** Runs on a schedule: every minute deployed, every REAPER_INTERVAL_SECONDS offline. */
registerPrimer(...deps.store.primers());

export const handler = scheduledHandler(async () => ({ ...(await reapAbandonedOrders(deps)) }));
