import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import { DomainError } from '../shared/contracts/errors';
import type { HttpResult } from '../shared/http/router';
import { remainingMs } from '../shared/runtime/invocation';
import { backOff } from '../shared/runtime/retry';

/** A response worth replaying. A 5xx is not: the record is dropped so that a retry runs the order again. */
class RetryableFailure<Result> extends Error {
  constructor(readonly result: Result) {
    super('retryable failure');
  }
}

interface KeyedRequest<Body> {
  key: string;
  body: Body;
}

/**
 * Idempotent order submission with Powertools for AWS Lambda. The key is the client's `Idempotency-Key`
 * and the request body is hashed alongside, so reusing a key with another body is refused (422). A
 * duplicate that arrives while the first is still running waits for it and returns its response.
 */
export class IdempotentSubmitter<Body, Result extends HttpResult<object>> {
  private readonly config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: 24 * 60 * 60,
  });
  private readonly submitOnce: (request: KeyedRequest<Body>) => Promise<Result>;

  constructor(client: DynamoDBClient, tableName: string, submit: (body: Body) => Promise<Result>) {
    const persistenceStore = new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: client });
    this.submitOnce = makeIdempotent(
      async (request: KeyedRequest<Body>) => {
        const result = await submit(request.body);
        if (result.statusCode >= 500) throw new RetryableFailure(result);
        return result;
      },
      { persistenceStore, config: this.config },
    );
  }

  async submit(key: string, body: Body, context: Context): Promise<Result> {
    this.config.registerLambdaContext(context);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.submitOnce({ key, body });
      } catch (error) {
        if (error instanceof RetryableFailure) return error.result as Result;
        if (error instanceof IdempotencyValidationError) {
          throw new DomainError(
            'idempotency_conflict',
            'Idempotency-Key was already used with a different request',
          );
        }
        if (!(error instanceof IdempotencyAlreadyInProgressError)) throw error;
        if (remainingMs() < 1_000) {
          throw new DomainError('conflict', 'A request with this Idempotency-Key is still in progress');
        }
        await backOff('peer', attempt);
      }
    }
  }
}
