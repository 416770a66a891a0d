import { readSettings } from '../shared/config/settings';
import { documentClient } from '../shared/data/dynamodb';
import { DynamoOrderStore, type OrderRecord } from '../shared/data/order-store';
import { createServiceClient } from '../shared/http/service-client';
import { commitCompleted } from '../shared/settlement/commit-completed';
import { streamBatchHandler } from '../shared/stream/stream-batch-handler';

const env = readSettings(['ORDERS_TABLE']);
const deps = {
  store: new DynamoOrderStore(documentClient, env.ORDERS_TABLE),
  inventory: createServiceClient('inventory-service'),
};

/** One batch of the orders table's stream: each order that turned COMPLETED has its stock committed. */
export const handler = streamBatchHandler<OrderRecord>(async (order) => {
  await commitCompleted(order, deps, 'committer');
});
