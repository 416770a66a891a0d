import * as z from 'zod';
import { documentClient } from '../shared/data/dynamodb';
import { integerSetting, loadEnv } from '../shared/config/env';
import { DynamoOrderStore } from '../shared/data/order-store';
import { scheduledHandler } from '../shared/schedule/scheduled-handler';
import { createServiceClient } from '../shared/http/service-client';
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
export const handler = scheduledHandler(async () => ({ ...(await reapAbandonedOrders(deps)) }));
