import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { prime, registerPrimer } from '../../functions/shared/priming';

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
});
