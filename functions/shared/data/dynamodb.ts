import http from 'node:http';
import https from 'node:https';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import LOCAL_DEFAULTS from '../config/local-defaults.json';
import { commonSettings } from '../config/settings';
import { registerPrimer } from '../runtime/priming';

/**
 * One DynamoDB client per Lambda instance. The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB, which the
 * SDK reads itself. DynamoDB Local accepts any credentials, so offline we pass dummies rather than depend
 * on whatever AWS profile the shell happens to have.
 */
export const dynamoClient = new DynamoDBClient({
  ...(commonSettings().IS_OFFLINE ? { credentials: LOCAL_DEFAULTS.credentials } : {}),
  requestHandler: new NodeHttpHandler({
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64 }),
    connectionTimeout: 1_000,
    requestTimeout: 3_000,
  }),
});

export const documentClient = DynamoDBDocumentClient.from(dynamoClient, {
  marshallOptions: { removeUndefinedValues: true },
});

registerPrimer(() => dynamoClient.send(new ListTablesCommand({ Limit: 1 })));
