// biome-ignore-all lint/suspicious/noTemplateCurlyInString: serverless.yml's variables, matched as text.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { parse } from 'yaml';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';

/**
 * The table names of a stage, from serverless.yml's custom.tables (`${self:service}-${sls:stage}-…`): the one
 * place they are written.
 */
export function tableNames(stage: string): Record<string, string> {
  const config = parse(readFileSync(path.join(PROJECT_ROOT, 'serverless.yml'), 'utf8')) as {
    service: string;
    custom: { tables: Record<string, string> };
  };
  return Object.fromEntries(
    Object.entries(config.custom.tables).map(([key, template]) => [
      key,
      template.replace('${self:service}', config.service).replace('${sls:stage}', stage),
    ]),
  );
}

/** The local stage's tables, by their key in custom.tables. */
export const LOCAL_TABLES: Readonly<Record<string, string>> = tableNames('local');

/** A local table's name by its key; a key serverless.yml does not have is a mistake, not undefined. */
export function localTable(key: string): string {
  const name = LOCAL_TABLES[key];
  if (!name)
    throw new Error(`serverless.yml's custom.tables has no "${key}" (it has ${Object.keys(LOCAL_TABLES)})`);
  return name;
}

/** The catalog price (cents) of items the tests and benchmarks stock: 10.00. */
export const STOCKED_PRICE_CENTS = 1000;

/** Sets an item's inventory, price and stock per warehouse location, replacing what was there. */
export async function putStock(
  db: DynamoDBDocumentClient,
  itemId: string,
  inventory: number,
  warehouse: Record<string, number>,
  unitPriceCents = STOCKED_PRICE_CENTS,
): Promise<void> {
  await db.send(
    new PutCommand({
      TableName: localTable('inventory'),
      Item: { item_id: itemId, availability: inventory, unit_price_cents: unitPriceCents },
    }),
  );
  for (const [location, quantity] of Object.entries(warehouse)) {
    await db.send(
      new PutCommand({
        TableName: localTable('warehouseStock'),
        Item: { item_id: itemId, location, available_quantity: quantity, reserved_quantity: 0 },
      }),
    );
  }
}
