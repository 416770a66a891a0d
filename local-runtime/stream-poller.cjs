'use strict';
/**
 * A stream consumer's event source mapping, run offline against DynamoDB Local's Streams API as Lambda runs
 * it where correctness depends on it (docs/architecture.md says why not serverless-offline-dynamodb-streams):
 * - the filter: a record that does not match is skipped, never delivered;
 * - batches of up to `batchSize` matching records, gathered for at most `batchWindowSeconds`, per shard, in
 *   order, one at a time;
 * - the answer honoured: `batchItemFailures` checkpoints before the first failed record and delivers again
 *   from it; a function error (every record failed, a crash, a timeout) delivers the batch again, halved
 *   when `bisectOnError`;
 * - a record retried `maximumRetryAttempts` times, or older than `maximumRecordAgeSeconds`, goes to the
 *   failure destination (a JSON line per record in `failuresFile`, in the shape Lambda sends to SQS) with one
 *   line in the terminal, and the records behind it go on.
 */
const { appendFileSync, mkdirSync } = require('node:fs');
const path = require('node:path');
const { setTimeout: sleep } = require('node:timers/promises');
const { matchesPattern } = require('./event-filter.cjs');

/** How often an idle shard is read, and how often the stream is looked at for new shards. */
const POLL_MS = 250;
const SHARDS_EVERY_MS = 5_000;

/**
 * @typedef {import('./manifests.cjs').StreamSource & { tableLogicalId: string }} StreamSource
 * @typedef {{ eventID: string, eventName: string, dynamodb: { SequenceNumber: string,
 *   ApproximateCreationDateTime?: number, [key: string]: unknown }, [key: string]: unknown }} StreamRecord
 */

/**
 * Polls one table's stream for one function until stopped.
 * @param {object} options
 * @param {string} options.functionKey
 * @param {string} options.tableName
 * @param {StreamSource} options.source
 * @param {{ endpoint?: string, region: string, credentials: { accessKeyId: string, secretAccessKey: string } }} options.client
 * @param {(event: unknown) => Promise<{ result: unknown, failure?: undefined } | { failure: string }>} options.invoke
 * @param {string} options.failuresFile
 * @param {(line: string) => void} options.warn
 */
function startStreamPoller({ functionKey, tableName, source, client, invoke, failuresFile, warn }) {
  const { DynamoDBClient, DescribeTableCommand } = require('@aws-sdk/client-dynamodb');
  const {
    DynamoDBStreamsClient,
    DescribeStreamCommand,
    GetShardIteratorCommand,
    GetRecordsCommand,
  } = require('@aws-sdk/client-dynamodb-streams');
  const dynamodb = new DynamoDBClient(client);
  const streams = new DynamoDBStreamsClient(client);
  let running = true;
  /** @type {Set<string>} */
  const polled = new Set();
  /** @type {() => void} */
  let markReady = () => {};
  /**
   * Resolves once every shard there at the start is being read, so later writes reach the function (or once
   * the poller gave up, having said why).
   */
  const ready = new Promise((resolve) => {
    markReady = () => resolve(undefined);
  });

  const run = async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    const streamArn = Table?.LatestStreamArn;
    if (!streamArn) throw new Error(`${tableName} has no stream: ${functionKey} gets no records`);
    let firstLook = true;
    /** @type {Array<Promise<unknown>>} */
    const catchingUp = [];
    while (running) {
      const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
      for (const shard of StreamDescription?.Shards ?? []) {
        const shardId = String(shard.ShardId);
        if (polled.has(shardId)) continue;
        polled.add(shardId);
        // What a new event source mapping starting at LATEST reads: on the shards there when it starts, the
        // records written from then on; on later ones, everything. (A LATEST iterator of DynamoDB Local on an
        // empty shard fails once records arrive: each shard is read from its start, and those there at the
        // start are first read to their end without delivering anything.)
        const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
        if (firstLook && closed) continue;
        const { caughtUp, done } = pollShard(streamArn, shardId, firstLook);
        if (firstLook) catchingUp.push(caughtUp);
        void done.catch((error) =>
          warn(
            `${functionKey}: stream shard ${shardId} stopped: ${error instanceof Error ? error.message : error}`,
          ),
        );
      }
      if (firstLook) {
        await Promise.all(catchingUp);
        markReady();
      }
      firstLook = false;
      await sleep(SHARDS_EVERY_MS);
    }
  };

  /**
   * Reads a shard and delivers its matching records until stopped; with `skipExisting`, what it holds at the
   * start is read to its end first, delivering nothing (`caughtUp` resolves then).
   * @param {string} streamArn
   * @param {string} shardId
   * @param {boolean} skipExisting
   */
  const pollShard = (streamArn, shardId, skipExisting) => {
    /** @type {() => void} */
    let markCaughtUp = () => {};
    const caughtUp = new Promise((resolve) => {
      markCaughtUp = () => resolve(undefined);
    });
    const done = readShard(streamArn, shardId, skipExisting, () => markCaughtUp()).finally(() =>
      markCaughtUp(),
    );
    return { caughtUp, done };
  };

  /**
   * @param {string} streamArn
   * @param {string} shardId
   * @param {boolean} skipExisting
   * @param {() => void} caughtUp
   */
  const readShard = async (streamArn, shardId, skipExisting, caughtUp) => {
    /** The last record read, to read on from after it when an iterator has to be asked for again. */
    let lastRead = '';
    const iteratorFrom = async () =>
      (
        await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ...(lastRead
              ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: lastRead }
              : { ShardIteratorType: 'TRIM_HORIZON' }),
          }),
        )
      ).ShardIterator;
    /** @type {string | undefined} */
    let iterator = await iteratorFrom();
    for (let skipping = skipExisting; skipping && iterator; ) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      iterator = page.NextShardIterator;
      lastRead = page.Records?.at(-1)?.dynamodb?.SequenceNumber ?? lastRead;
      skipping = (page.Records?.length ?? 0) > 0;
    }
    caughtUp();
    /** @type {StreamRecord[]} */
    let buffered = [];
    /** Delivery attempts of the record at the head of the buffer. */
    let attempts = 0;
    let bufferedSince = 0;
    while (running && (iterator || buffered.length > 0)) {
      if (iterator && buffered.length < source.batchSize) {
        /** @type {import('@aws-sdk/client-dynamodb-streams').GetRecordsCommandOutput} */
        let page;
        try {
          page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
        } catch (error) {
          const name = /** @type {{ name?: string }} */ (error).name;
          if (name !== 'ExpiredIteratorException' && name !== 'TrimmedDataAccessException') throw error;
          iterator = await iteratorFrom();
          continue;
        }
        iterator = page.NextShardIterator;
        const read = /** @type {StreamRecord[]} */ (/** @type {unknown} */ (page.Records ?? [])).map(
          (record) => asLambdaDelivers(record, streamArn),
        );
        lastRead = read.at(-1)?.dynamodb.SequenceNumber ?? lastRead;
        const matching = read.filter((record) => matchesPattern(source.filter, record));
        if (matching.length > 0 && buffered.length === 0) bufferedSince = Date.now();
        buffered.push(...matching);
      }
      const windowOpen = Date.now() - bufferedSince < source.batchWindowSeconds * 1000;
      if (buffered.length === 0 || (buffered.length < source.batchSize && windowOpen && iterator)) {
        await sleep(POLL_MS);
        continue;
      }
      const tooOld = buffered.filter(
        (record) =>
          Date.now() / 1000 - Number(record.dynamodb.ApproximateCreationDateTime ?? 0) >
          source.maximumRecordAgeSeconds,
      );
      for (const record of tooOld)
        setAside(record, 'the record is older than maximumRecordAgeSeconds', attempts);
      buffered = buffered.filter((record) => !tooOld.includes(record));
      if (buffered.length === 0) continue;
      const settled = await deliver(buffered.slice(0, source.batchSize), attempts);
      if (settled === 0) {
        attempts++;
        if (attempts > source.maximumRetryAttempts) {
          // The head record is the one that keeps failing (bisecting narrows it down to itself).
          setAside(/** @type {StreamRecord} */ (buffered[0]), 'its retries ran out', attempts);
          buffered = buffered.slice(1);
          attempts = 0;
        }
      } else {
        buffered = buffered.slice(settled);
        attempts = 0;
      }
      bufferedSince = Date.now();
    }
  };

  /**
   * Delivers a batch; answers how many records from its start are done (0: the head record failed).
   * @param {StreamRecord[]} batch
   * @param {number} attempts the head record's failed deliveries so far
   * @returns {Promise<number>}
   */
  const deliver = async (batch, attempts) => {
    const answer = await invoke({ Records: batch });
    if (answer.failure !== undefined) {
      warn(
        `${functionKey}: a batch of ${batch.length} stream record(s) failed (${answer.failure}); delivering it again`,
      );
      // Bisect: the failing half is found by delivering the first half alone (Lambda splits the batch in two).
      if (source.bisectOnError && batch.length > 1)
        return deliver(batch.slice(0, Math.ceil(batch.length / 2)), attempts);
      return 0;
    }
    const result = /** @type {{ batchItemFailures?: Array<{ itemIdentifier?: string }> } | undefined} */ (
      answer.result
    );
    const failures = result?.batchItemFailures;
    if (!failures || failures.length === 0) return batch.length;
    const failed = new Set(failures.map((failure) => String(failure.itemIdentifier)));
    const firstFailed = batch.findIndex((record) => failed.has(record.dynamodb.SequenceNumber));
    // An identifier that is no record of the batch fails the whole batch, as Lambda treats it.
    return Math.max(firstFailed, 0);
  };

  /**
   * @param {StreamRecord} record
   * @param {string} reason
   * @param {number} attempts
   */
  const setAside = (record, reason, attempts) => {
    mkdirSync(path.dirname(failuresFile), { recursive: true });
    appendFileSync(
      failuresFile,
      `${JSON.stringify({
        requestContext: { condition: reason, functionName: functionKey, approximateInvokeCount: attempts },
        timestamp: new Date().toISOString(),
        DDBStreamBatchInfo: {
          streamArn: record.eventSourceARN,
          startSequenceNumber: record.dynamodb.SequenceNumber,
          endSequenceNumber: record.dynamodb.SequenceNumber,
          batchSize: 1,
        },
        record,
      })}\n`,
    );
    warn(
      `${functionKey}: stream record ${record.dynamodb.SequenceNumber} (${record.eventID}) set aside, ${reason} ` +
        `(${attempts} attempt(s)): ${path.relative(process.cwd(), failuresFile)}; the records behind it go on`,
    );
  };

  void run().catch((error) => {
    warn(`${functionKey}: ${error instanceof Error ? error.message : error}`);
    markReady();
  });
  return {
    ready,
    stop() {
      running = false;
      dynamodb.destroy();
      streams.destroy();
    },
  };
}

/**
 * A record from GetRecords as Lambda delivers it: its creation time in epoch seconds, the stream's ARN.
 * @param {any} record
 * @param {string} streamArn
 * @returns {StreamRecord}
 */
function asLambdaDelivers(record, streamArn) {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: {
      ...record.dynamodb,
      ApproximateCreationDateTime: created instanceof Date ? created.getTime() / 1000 : Number(created),
    },
  };
}

module.exports = { startStreamPoller };
