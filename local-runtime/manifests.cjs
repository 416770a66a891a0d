// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Serverless Framework and CloudFormation variables, resolved by them.
'use strict';
/**
 * Every function's facts live in its own `functions/<name>/function.yml`: its service name, timeout, routes,
 * schedule, the tables (and indexes) it touches with which actions, the routes it calls, and its own settings.
 * Everything else is derived here, once: serverless.yml's function blocks, one least-privilege IAM role per
 * function, the offline schedules, and (through scripts/lib/manifests.ts) the expectations of the tests.
 *
 * serverless.yml reads it as `${file(./local-runtime/manifests.cjs):functions}` (and `:roles`,
 * `:offlineSchedules`); the `${...}` variables a manifest holds are resolved by the Framework afterwards.
 */
const { readdirSync, readFileSync, existsSync } = require('node:fs');
const path = require('node:path');
const { parse } = require('yaml');

const FUNCTIONS_DIR = path.join(__dirname, '..', 'functions');
const MANIFEST = 'function.yml';
const KNOWN_KEYS = new Set([
  'service',
  'timeout',
  'reservedConcurrency',
  'public',
  'routes',
  'schedule',
  'stream',
  'tables',
  'indexes',
  'calls',
  'environment',
]);
const ROUTE = /^(GET|POST|PUT|PATCH|DELETE) (\/[\w{}/-]+)$/;
const DYNAMODB_ACTION = /^[A-Z][A-Za-z]+$/;

/** "api-gateway" → "apiGateway": the function's key in serverless.yml. */
const camelCase = (/** @type {string} */ name) =>
  name.replace(/-(\w)/g, (_whole, /** @type {string} */ letter) => letter.toUpperCase());
/** "inventoryReservations" → "InventoryReservations": CloudFormation logical ids and statement ids. */
const pascalCase = (/** @type {string} */ name) =>
  camelCase(name).replace(/^\w/, (letter) => letter.toUpperCase());
/** "inventoryReservations" → "INVENTORY_RESERVATIONS_TABLE": the variable a function reads its table from. */
const tableVariable = (/** @type {string} */ table) =>
  `${table.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase()}_TABLE`;

/**
 * @param {string} file
 * @param {string} message
 * @returns {never}
 */
function fail(file, message) {
  throw new Error(`${path.relative(process.cwd(), file)}: ${message}`);
}

/**
 * One function's facts, checked (see the file's header).
 * @typedef {{ name: string, key: string, logicalId: string, service: string, timeout: number,
 *   reservedConcurrency: number, public: boolean,
 *   routes: string[], schedule?: { rate: string, offlineEverySeconds?: number }, stream?: StreamSource,
 *   tables: Record<string, string[]>,
 *   indexes: Record<string, string[]>, calls: string[], environment: Record<string, string> }} Manifest
 */

/**
 * A table's stream as a function's trigger: Lambda's event source mapping, and offline the local poller's
 * (local-runtime/stream-poller.cjs).
 * @typedef {{ table: string, batchSize: number, batchWindowSeconds: number, maximumRetryAttempts: number,
 *   maximumRecordAgeSeconds: number, bisectOnError: boolean, filter: Record<string, unknown> }} StreamSource
 */

/**
 * Reads and checks one manifest; a mistake stops the Framework with the file and the field named.
 * @param {string} functionsDir
 * @param {string} name
 * @returns {Manifest}
 */
function readManifest(functionsDir, name) {
  const file = path.join(functionsDir, name, MANIFEST);
  const manifest = parse(readFileSync(file, 'utf8')) ?? {};
  for (const key of Object.keys(manifest)) {
    if (!KNOWN_KEYS.has(key)) fail(file, `unknown key "${key}" (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  if (typeof manifest.service !== 'string' || !manifest.service)
    fail(file, '"service" must name the service');
  if (!Number.isInteger(manifest.timeout) || manifest.timeout < 1)
    fail(file, '"timeout" must be whole seconds');
  if (!Number.isInteger(manifest.reservedConcurrency) || manifest.reservedConcurrency < 1)
    fail(file, '"reservedConcurrency" must be a whole number of instances (see docs/architecture.md)');
  /** @type {string[]} */
  const routes = manifest.routes ?? [];
  /** @type {string[]} */
  const calls = manifest.calls ?? [];
  for (const route of [...routes, ...calls]) {
    if (!ROUTE.test(route)) fail(file, `"${route}" is not "METHOD /path"`);
  }
  if (routes.length === 0 && !manifest.schedule && !manifest.stream) {
    fail(file, 'a function needs routes, a schedule or a stream');
  }
  if (manifest.stream) checkStream(file, manifest.stream);
  const tables = manifest.tables ?? {};
  const indexes = manifest.indexes ?? {};
  for (const [table, actions] of Object.entries({ ...tables, ...indexes })) {
    if (
      !Array.isArray(actions) ||
      actions.length === 0 ||
      !actions.every((a) => DYNAMODB_ACTION.test(String(a)))
    ) {
      fail(file, `"${table}" needs a list of DynamoDB actions such as [GetItem, PutItem]`);
    }
  }
  for (const index of Object.keys(indexes)) {
    if (!/^\w+\/[\w.-]+$/.test(index)) fail(file, `index "${index}" must be "<table>/<index name>"`);
  }
  return {
    name,
    key: camelCase(name),
    logicalId: pascalCase(name),
    service: manifest.service,
    timeout: manifest.timeout,
    reservedConcurrency: manifest.reservedConcurrency,
    public: manifest.public === true,
    routes,
    schedule: manifest.schedule,
    ...(manifest.stream ? { stream: manifest.stream } : {}),
    tables,
    indexes,
    calls,
    environment: manifest.environment ?? {},
  };
}

/**
 * @param {string} file
 * @param {Record<string, unknown>} stream
 */
function checkStream(file, stream) {
  if (typeof stream.table !== 'string') fail(file, 'stream.table must name a table (custom.tables)');
  for (const key of ['batchSize', 'batchWindowSeconds', 'maximumRetryAttempts', 'maximumRecordAgeSeconds']) {
    if (!Number.isInteger(stream[key]) || Number(stream[key]) < 0)
      fail(file, `stream.${key} must be a whole number`);
  }
  if (typeof stream.bisectOnError !== 'boolean') fail(file, 'stream.bisectOnError must be true or false');
  if (typeof stream.filter !== 'object' || stream.filter === null)
    fail(file, 'stream.filter must be an event filter pattern');
}

/** The SQS queue a stream consumer's failed records go to. */
const failuresQueueOf = (/** @type {Manifest} */ fn) => `${fn.logicalId}FailuresQueue`;
/** A table's stream, as CloudFormation names it. */
const streamArnOf = (/** @type {string} */ table) => ({
  'Fn::GetAtt': [`${pascalCase(table)}Table`, 'StreamArn'],
});

/**
 * Every function with a manifest, in folder order.
 * @param {string} functionsDir
 */
function loadManifests(functionsDir) {
  return readdirSync(functionsDir)
    .filter((name) => existsSync(path.join(functionsDir, name, MANIFEST)))
    .sort()
    .map((name) => readManifest(functionsDir, name));
}

/**
 * "GET /order/{id}" → { method: "GET", path: "/order/{id}" } (routes are checked when read).
 * @param {string} route
 */
function splitRoute(route) {
  const [, method = '', routePath = ''] = ROUTE.exec(route) ?? [];
  return { method, path: routePath };
}

/**
 * serverless.yml's `functions:` block.
 * @param {Manifest[]} manifests
 */
function functionBlocks(manifests) {
  return Object.fromEntries(
    manifests.map((fn) => {
      /** @type {Array<Record<string, object>>} */
      const events = fn.routes.map((route) => {
        const { method, path: routePath } = splitRoute(route);
        return {
          http: {
            method: method.toLowerCase(),
            path: routePath,
            // Public routes: open with the stage's throttling, or behind an API key and its usage plan
            // with `--param requireApiKey=true` (docs/deploying.md, "Deployed limits").
            ...(fn.public
              ? { private: '${strToBool(${param:requireApiKey})}' }
              : { authorizer: '${param:internalAuthorizer}' }),
          },
        };
      });
      if (fn.schedule) {
        events.push({ schedule: { rate: fn.schedule.rate, enabled: '${param:schedulesEnabled}' } });
      }
      if (fn.stream) {
        const stream = fn.stream;
        events.push({
          stream: {
            type: 'dynamodb',
            arn: streamArnOf(stream.table),
            startingPosition: 'LATEST',
            batchSize: stream.batchSize,
            batchWindow: stream.batchWindowSeconds,
            maximumRetryAttempts: stream.maximumRetryAttempts,
            maximumRecordAgeInSeconds: stream.maximumRecordAgeSeconds,
            bisectBatchOnFunctionError: stream.bisectOnError,
            functionResponseType: 'ReportBatchItemFailures',
            filterPatterns: [stream.filter],
            destinations: { onFailure: { arn: { 'Fn::GetAtt': [failuresQueueOf(fn), 'Arn'] }, type: 'sqs' } },
          },
        });
      }
      const tableVariables = Object.fromEntries(
        Object.keys(fn.tables).map((table) => [tableVariable(table), `\${self:custom.tables.${table}}`]),
      );
      return [
        fn.key,
        {
          name: `\${self:service}-\${sls:stage}-${fn.name}`,
          handler: `dist/functions/${fn.name}/handler.handler`,
          role: `${fn.logicalId}Role`,
          timeout: fn.timeout,
          reservedConcurrency: fn.reservedConcurrency,
          environment: {
            OTEL_SERVICE_NAME: fn.service,
            // A public function starts the trace of a request from outside (edge-context.ts).
            ...(fn.public ? { INBOUND_TRACE_CONTEXT: '${param:publicTraceContext}' } : {}),
            ...tableVariables,
            ...fn.environment,
          },
          events,
        },
      ];
    }),
  );
}

const arn = (/** @type {string} */ rest) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:${rest}` });
const invokeArn = (/** @type {string} */ route) => {
  const { method, path: routePath } = splitRoute(route);
  const resource = routePath.replace(/\{\w+\}/g, '*');
  return arn(
    `execute-api:\${AWS::Region}:\${AWS::AccountId}:\${ApiGatewayRestApi}/\${sls:stage}/${method}${resource}`,
  );
};

/**
 * One role per function: its log group, the OTLP headers parameter, its tables' actions, its calls.
 * @param {Manifest} fn
 */
function roleOf(fn) {
  /** @type {Array<Record<string, unknown>>} */
  const statements = [
    {
      Sid: 'OwnLogGroup',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [`${fn.logicalId}LogGroup`, 'Arn'] },
    },
    {
      Sid: 'OtlpHeadersParameter',
      Effect: 'Allow',
      Action: 'ssm:GetParameter',
      Resource: arn(
        'ssm:${AWS::Region}:${AWS::AccountId}:parameter/${self:service}/${sls:stage}/otlp-headers',
      ),
    },
    // Transactions need the item-level actions of every table they touch: TransactWriteItems is not an action.
    ...Object.entries(fn.tables).map(([table, actions]) => ({
      Sid: pascalCase(table),
      Effect: 'Allow',
      Action: actions.map((action) => `dynamodb:${action}`),
      Resource: { 'Fn::GetAtt': [`${pascalCase(table)}Table`, 'Arn'] },
    })),
    ...Object.entries(fn.indexes).map(([index, actions]) => {
      const [table = '', indexName = ''] = index.split('/');
      return {
        Sid: `${pascalCase(table)}Index${pascalCase(indexName)}`.replace(/\W/g, ''),
        Effect: 'Allow',
        Action: actions.map((action) => `dynamodb:${action}`),
        Resource: { 'Fn::Sub': `\${${pascalCase(table)}Table.Arn}/index/${indexName}` },
      };
    }),
  ];
  if (fn.stream) {
    statements.push(
      // What Lambda's event source mapping reads the stream with (the Framework's own statement for a stream).
      {
        Sid: 'ReadTheStream',
        Effect: 'Allow',
        Action: [
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:DescribeStream',
          'dynamodb:ListStreams',
        ],
        Resource: streamArnOf(fn.stream.table),
      },
      {
        Sid: 'SendFailedRecords',
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: { 'Fn::GetAtt': [failuresQueueOf(fn), 'Arn'] },
      },
    );
  }
  if (fn.calls.length > 0) {
    statements.push({
      Sid: 'InvokeInternalRoutes',
      Effect: 'Allow',
      Action: 'execute-api:Invoke',
      Resource: fn.calls.map(invokeArn),
    });
  }
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
      Policies: [
        {
          PolicyName: `${fn.name}-least-privilege`,
          PolicyDocument: { Version: '2012-10-17', Statement: statements },
        },
      ],
    },
  };
}

/**
 * Checks what only the whole set can show: every call has a function serving it, no route is served twice.
 * Answers the functions a function calls, in the order of its calls.
 * @param {string} functionsDir
 * @param {Manifest[]} manifests
 * @returns {(fn: Manifest) => Manifest[]}
 */
function checkCalls(functionsDir, manifests) {
  /** @type {Map<string, string>} */
  const servedBy = new Map();
  for (const fn of manifests) {
    for (const route of fn.routes) {
      if (servedBy.has(route)) {
        fail(path.join(functionsDir, fn.name, MANIFEST), `${route} is also served by ${servedBy.get(route)}`);
      }
      servedBy.set(route, fn.name);
    }
  }
  for (const fn of manifests) {
    for (const call of fn.calls) {
      if (!servedBy.has(call)) fail(path.join(functionsDir, fn.name, MANIFEST), `no function serves ${call}`);
    }
  }
  const byName = new Map(manifests.map((fn) => [fn.name, fn]));
  return (fn) => fn.calls.flatMap((call) => byName.get(String(servedBy.get(call))) ?? []);
}

/**
 * Reserved concurrency is sized so that the public function cannot starve the ones it calls: each request
 * from outside holds one instance of every function on its path at once, and commits, releases and the
 * reaper's calls need room beside them. So every function a public one reaches, directly or not, reserves
 * more instances than it does.
 * @param {string} functionsDir
 * @param {Manifest[]} manifests
 * @param {(fn: Manifest) => Manifest[]} calleesOf
 */
function checkConcurrency(functionsDir, manifests, calleesOf) {
  for (const entry of manifests.filter((fn) => fn.public)) {
    const seen = new Set([entry.name]);
    const queue = calleesOf(entry);
    for (let callee = queue.shift(); callee; callee = queue.shift()) {
      if (seen.has(callee.name)) continue;
      seen.add(callee.name);
      queue.push(...calleesOf(callee));
      if (callee.reservedConcurrency <= entry.reservedConcurrency) {
        fail(
          path.join(functionsDir, callee.name, MANIFEST),
          `reservedConcurrency ${callee.reservedConcurrency} must be above ${entry.name}'s ` +
            `${entry.reservedConcurrency}: every request ${entry.name} takes needs an instance here too`,
        );
      }
    }
  }
}

/**
 * How many hops below each function its calls reach, by function key: 0 for one that calls none, 1 for one
 * whose callees call none, and so on. An instance is busy until its callees answer, so the deeper a function's
 * calls go, the longer each of its invocations holds an instance.
 * @param {Manifest[]} manifests
 * @param {(fn: Manifest) => Manifest[]} calleesOf
 * @returns {Record<string, number>}
 */
function callDepths(manifests, calleesOf) {
  /** @type {Map<string, number>} */
  const depths = new Map();
  /** @param {Manifest} fn @returns {number} */
  const depthOf = (fn) => {
    const known = depths.get(fn.name);
    if (known !== undefined) return known;
    // A cycle would be a request waiting on itself; counted once, it cannot recurse forever.
    depths.set(fn.name, 0);
    const callees = calleesOf(fn);
    const depth = callees.length === 0 ? 0 : 1 + Math.max(...callees.map(depthOf));
    depths.set(fn.name, depth);
    return depth;
  };
  return Object.fromEntries(manifests.map((fn) => [fn.key, depthOf(fn)]));
}

/**
 * The functions an order passes through: each public one, then what it calls, depth first in the order of the
 * calls.
 * @param {Manifest[]} manifests
 * @param {(fn: Manifest) => Manifest[]} calleesOf
 * @returns {Manifest[]}
 */
function orderPath(manifests, calleesOf) {
  /** @type {Manifest[]} */
  const reached = [];
  /** @param {Manifest} fn */
  const visit = (fn) => {
    if (reached.includes(fn)) return;
    reached.push(fn);
    for (const callee of calleesOf(fn)) visit(callee);
  };
  for (const fn of manifests.filter((manifest) => manifest.public)) visit(fn);
  return reached;
}

/** Everything derived from the manifests in `functionsDir`. */
function derive(functionsDir = FUNCTIONS_DIR) {
  const manifests = loadManifests(functionsDir);
  const calleesOf = checkCalls(functionsDir, manifests);
  checkConcurrency(functionsDir, manifests, calleesOf);
  return {
    manifests,
    callDepths: callDepths(manifests, calleesOf),
    orderPath: orderPath(manifests, calleesOf),
    functions: functionBlocks(manifests),
    roles: {
      Resources: Object.fromEntries([
        ...manifests.map((fn) => [`${fn.logicalId}Role`, roleOf(fn)]),
        // Where a stream consumer's records go once Lambda gives up on them: encrypted, kept 14 days
        // (docs/observability.md, "Runbook": how to read and redrive them).
        ...manifests
          .filter((fn) => fn.stream)
          .map((fn) => [
            failuresQueueOf(fn),
            {
              Type: 'AWS::SQS::Queue',
              Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 },
            },
          ]),
      ]),
    },
    offlineStreams: Object.fromEntries(
      manifests.flatMap((fn) =>
        fn.stream ? [[fn.key, { ...fn.stream, tableLogicalId: `${pascalCase(fn.stream.table)}Table` }]] : [],
      ),
    ),
    offlineSchedules: Object.fromEntries(
      manifests.flatMap((fn) => (fn.schedule ? [[fn.key, fn.schedule.offlineEverySeconds ?? 0]] : [])),
    ),
  };
}

// The Framework calls the exported function (with its own arguments) once per `${file(...):property}` it
// resolves, and reads the property named: the manifests are read and checked once.
/** @type {ReturnType<typeof derive> | undefined} */
let derived;
module.exports = () => {
  derived ??= derive();
  return derived;
};
module.exports.derive = derive;
module.exports.tableVariable = tableVariable;
