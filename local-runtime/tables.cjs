'use strict';
/**
 * The DynamoDB tables in serverless.yml's `resources`, created in DynamoDB Local and seeded from
 * `custom.seed`, idempotently: before serverless-offline's API starts, and before the benchmark's floor.
 */
const LOCAL_DEFAULTS = require('../functions/shared/config/local-defaults.json');

/**
 * A table as CloudFormation defines it (AWS::DynamoDB::Table's Properties).
 * @typedef {{ TableName: string, KeySchema: import('@aws-sdk/client-dynamodb').KeySchemaElement[],
 *   AttributeDefinitions: import('@aws-sdk/client-dynamodb').AttributeDefinition[],
 *   GlobalSecondaryIndexes?: import('@aws-sdk/client-dynamodb').GlobalSecondaryIndex[],
 *   StreamSpecification?: { StreamViewType: import('@aws-sdk/client-dynamodb').StreamViewType } }} TableDefinition
 */
/**
 * @typedef {object} TableSetup
 * @property {string | undefined} endpoint DynamoDB's endpoint (DynamoDB Local's)
 * @property {string} [region]
 * @property {unknown} resources serverless.yml's `resources` (one block or a list of them)
 * @property {Record<string, Array<Record<string, unknown>>>} seed items per table's logical id
 * @property {(line: string) => void} log
 */

/**
 * Creates the project's DynamoDB tables from their CloudFormation definitions and seeds them once.
 * @param {TableSetup} setup
 */
async function ensureTables({ endpoint, region, resources, seed, log }) {
  const tables = tableDefinitions(resources);
  if (tables.length === 0) return;
  const { DynamoDBClient, CreateTableCommand } = require('@aws-sdk/client-dynamodb');
  const { DynamoDBDocumentClient, PutCommand } = require('@aws-sdk/lib-dynamodb');
  const client = new DynamoDBClient({
    endpoint,
    region: region ?? LOCAL_DEFAULTS.region,
    credentials: LOCAL_DEFAULTS.credentials,
    maxAttempts: 1,
  });
  const documents = DynamoDBDocumentClient.from(client);
  try {
    const existing = new Set(await listTables(client, endpoint));
    for (const [logicalId, table] of tables) {
      if (!existing.has(table.TableName)) {
        await client.send(
          new CreateTableCommand({
            TableName: table.TableName,
            KeySchema: table.KeySchema,
            AttributeDefinitions: table.AttributeDefinitions,
            GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
            ...(table.StreamSpecification
              ? { StreamSpecification: { StreamEnabled: true, ...table.StreamSpecification } }
              : {}),
            BillingMode: 'PAY_PER_REQUEST',
          }),
        );
        log(`created table ${table.TableName}`);
      } else {
        await addMissingIndexes(client, table, log);
      }
      const [partitionKey] = table.KeySchema.map((element) => element.AttributeName);
      for (const item of seed[logicalId] ?? []) {
        try {
          await documents.send(
            new PutCommand({
              TableName: table.TableName,
              Item: item,
              ConditionExpression: `attribute_not_exists(${partitionKey})`,
            }),
          );
        } catch (error) {
          if (!(error instanceof Error) || error.name !== 'ConditionalCheckFailedException') throw error;
        }
      }
    }
  } finally {
    client.destroy();
  }
}

/**
 * A table kept from an earlier version of the project (npm start keeps its data) gains its new indexes and
 * its stream.
 * @param {import('@aws-sdk/client-dynamodb').DynamoDBClient} client
 * @param {TableDefinition} table
 * @param {(line: string) => void} log
 */
async function addMissingIndexes(client, table, log) {
  const { DescribeTableCommand, UpdateTableCommand } = require('@aws-sdk/client-dynamodb');
  const wanted = table.GlobalSecondaryIndexes ?? [];
  if (wanted.length === 0 && !table.StreamSpecification) return;
  const { Table } = await client.send(new DescribeTableCommand({ TableName: table.TableName }));
  if (table.StreamSpecification && !Table?.StreamSpecification?.StreamEnabled) {
    await client.send(
      new UpdateTableCommand({
        TableName: table.TableName,
        StreamSpecification: { StreamEnabled: true, ...table.StreamSpecification },
      }),
    );
    log(`enabled the stream of ${table.TableName}`);
  }
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  for (const index of wanted.filter((candidate) => !present.has(candidate.IndexName))) {
    await client.send(
      new UpdateTableCommand({
        TableName: table.TableName,
        AttributeDefinitions: table.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    log(`added index ${index.IndexName} to ${table.TableName}`);
  }
}

/**
 * The tables among serverless.yml's resources, with their logical ids.
 * @param {unknown} resources
 * @returns {Array<[string, TableDefinition]>}
 */
function tableDefinitions(resources) {
  const blocks = Array.isArray(resources) ? resources : [resources ?? {}];
  /** @type {Array<[string, TableDefinition]>} */
  const definitions = [];
  for (const block of blocks) {
    /** @type {Record<string, { Type?: string, Properties: TableDefinition }>} */
    const declared = block?.Resources ?? {};
    for (const [logicalId, resource] of Object.entries(declared)) {
      if (resource.Type === 'AWS::DynamoDB::Table') definitions.push([logicalId, resource.Properties]);
    }
  }
  return definitions;
}

/**
 * @param {import('@aws-sdk/client-dynamodb').DynamoDBClient} client
 * @param {string | undefined} endpoint for the message
 * @returns {Promise<string[]>}
 */
async function listTables(client, endpoint) {
  const { ListTablesCommand } = require('@aws-sdk/client-dynamodb');
  try {
    /** @type {string[]} */
    const names = [];
    /** @type {string | undefined} */
    let start;
    do {
      const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
      names.push(...(page.TableNames ?? []));
      start = page.LastEvaluatedTableName;
    } while (start);
    return names;
  } catch (error) {
    const { code, name } = /** @type {{ code?: string, name?: string }} */ (error ?? {});
    throw new Error(
      `DynamoDB is not reachable at ${endpoint} (${code ?? name}). ` +
        'Start DynamoDB Local alone with `npm run dynamodb` (Java 17+) or `docker compose up -d dynamodb-local`, ' +
        'or point AWS_ENDPOINT_URL_DYNAMODB at a running one; `npm start` starts it together with the API.',
    );
  }
}

module.exports = { ensureTables, tableDefinitions };
