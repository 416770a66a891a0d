import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { writePathPrimers } from '../../functions/shared/data/dynamodb-priming';
import { PRIMING_KEY, prime, registerPrimer } from '../../functions/shared/runtime/priming';

describe('priming', () => {
  const contextManager = new AsyncLocalStorageContextManager();
  before(() => {
    context.setGlobalContextManager(contextManager.enable());
  });
  after(() => {
    context.disable();
  });

  it('runs every registered primer once, with tracing suppressed, and survives a failing one', async () => {
    const seen: boolean[] = [];
    registerPrimer(async () => {
      seen.push(isTracingSuppressed(context.active()));
    });
    registerPrimer(async () => {
      throw new Error('DynamoDB is not there');
    });
    const registered = await prime();
    assert.equal(registered, 2);
    assert.deepEqual(seen, [true]);
    assert.equal(isTracingSuppressed(context.active()), false, 'only the primers run suppressed');
    assert.equal(trace.getActiveSpan(), undefined);
  });

  it("primes a table's write paths with a transaction and an update that can only fail on their condition", async () => {
    const sent: Array<{ name: string; input: unknown }> = [];
    const db = {
      send: async (command: { constructor: { name: string }; input: unknown }) => {
        sent.push({ name: command.constructor.name, input: command.input });
        throw Object.assign(new Error('condition failed'), { name: 'ConditionalCheckFailedException' });
      },
    } as unknown as DynamoDBDocumentClient;
    registerPrimer(...writePathPrimers(db, 'orders-local-orders', 'order_id'));
    await prime();
    const condition = {
      TableName: 'orders-local-orders',
      Key: { order_id: PRIMING_KEY },
      ConditionExpression: 'attribute_exists(#key)',
      ExpressionAttributeNames: { '#key': 'order_id' },
    };
    assert.deepEqual(sent.slice(-2), [
      { name: 'TransactWriteCommand', input: { TransactItems: [{ ConditionCheck: condition }] } },
      {
        name: 'UpdateCommand',
        input: {
          ...condition,
          UpdateExpression: 'SET #key = :key',
          ExpressionAttributeValues: { ':key': PRIMING_KEY },
        },
      },
    ]);
  });
});
