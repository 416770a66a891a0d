import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import JSZip from 'jszip';
import { PACKAGED_OTLP_ENDPOINT, packageStage } from '../../scripts/deployed/package';
import { MANIFESTS, servingFunction } from '../../scripts/lib/manifests';
import { skipForeignCache } from '../support/qemu';

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

/** Each function's expected timeout, table resources and invoked routes, from its manifest. */
const logicalTable = (key: string) => `${key[0]?.toUpperCase()}${key.slice(1)}Table`;
const FUNCTIONS = Object.fromEntries(
  MANIFESTS.map((fn) => [
    fn.logicalId,
    {
      timeout: fn.timeout,
      tables: [
        ...Object.keys(fn.tables).map(logicalTable),
        ...Object.keys(fn.indexes).map((index) => {
          const [table = '', name] = index.split('/');
          return `${logicalTable(table)}/index/${name}`;
        }),
        ...(fn.stream ? [`${logicalTable(fn.stream.table)}/stream`] : []),
      ],
      // "GET /order/{id}" is invoked as GET/order/*.
      invokes: fn.calls.map((call) => call.replace(' /', '/').replace(/\{\w+\}/g, '*')),
    },
  ]),
);

/** A statement's resource as "Table" or "Table/index/Name", from GetAtt or from a Sub on the table's Arn. */
function tableOf(resource: unknown): string {
  const value = resource as { 'Fn::GetAtt'?: [string, string]; 'Fn::Sub'?: string };
  if (value['Fn::GetAtt']?.[1] === 'StreamArn') return `${value['Fn::GetAtt'][0]}/stream`;
  if (value['Fn::GetAtt']) return value['Fn::GetAtt'][0];
  return String(value['Fn::Sub']).replace(/^\$\{(\w+)\.Arn\}/, '$1');
}

describe('`serverless package --stage prod` (no credentials, no network)', () => {
  let directory: string;
  let resources: Record<string, Resource>;
  let template: string;
  /** Each function's own zip, by its logical id. */
  const zips = new Map<string, JSZip>();

  before(async () => {
    // With no AWS credentials or config files at all (packageStage's environment).
    const packaged = await packageStage('prod');
    directory = packaged.dir;
    template = readFileSync(path.join(directory, 'cloudformation-template-update-stack.json'), 'utf8');
    resources = JSON.parse(template).Resources;
    return Promise.all(
      ofType('AWS::Lambda::Function').map(async ([logicalId, fn]) => {
        const key = (fn.Properties.Code as { S3Key: string }).S3Key;
        zips.set(logicalId, await JSZip.loadAsync(readFileSync(path.join(directory, path.basename(key)))));
      }),
    );
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

  it('defines the tables on demand, with deletion protection on every one that holds state', () => {
    const tables = Object.fromEntries(ofType('AWS::DynamoDB::Table'));
    assert.deepEqual(Object.keys(tables).sort(), [
      'IdempotencyTable',
      'InventoryReservationsTable',
      'InventoryTable',
      'OrdersTable',
      'WarehouseReservationsTable',
      'WarehouseStockTable',
    ]);
    for (const [name, table] of Object.entries(tables)) {
      assert.equal(table.Properties.BillingMode, 'PAY_PER_REQUEST', name);
      // Every table holds state: stock, the reservations that hold it, orders, and idempotency records.
      assert.equal(table.Properties.DeletionProtectionEnabled, true, `${name}: deletion protection`);
      assert.equal(table.DeletionPolicy, 'Retain', `${name}: kept if the stack is deleted`);
    }
    for (const name of ['InventoryTable', 'WarehouseStockTable', 'OrdersTable']) {
      const table = tables[name] as Resource;
      assert.deepEqual(
        table.Properties.PointInTimeRecoverySpecification,
        { PointInTimeRecoveryEnabled: true },
        name,
      );
      assert.equal(table.Properties.DeletionProtectionEnabled, true, name);
      assert.equal(table.DeletionPolicy, 'Retain', name);
    }
    assert.deepEqual((tables.IdempotencyTable as Resource).Properties.TimeToLiveSpecification, {
      AttributeName: 'expiration',
      Enabled: true,
    });
  });

  it('runs every function on nodejs24.x with its memory and a timeout longer than whatever it calls', () => {
    const functions = Object.fromEntries(ofType('AWS::Lambda::Function'));
    assert.equal(Object.keys(functions).length, Object.keys(FUNCTIONS).length);
    for (const [name, expected] of Object.entries(FUNCTIONS)) {
      const fn = functions[`${name}LambdaFunction`] as Resource;
      assert.ok(fn, `${name}LambdaFunction is in the template`);
      assert.equal(fn.Properties.Runtime, 'nodejs24.x', name);
      assert.equal(fn.Properties.MemorySize, 256, name);
      assert.equal(fn.Properties.Timeout, expected.timeout, name);
      assert.deepEqual(
        fn.Properties.Role,
        { 'Fn::GetAtt': [`${name}Role`, 'Arn'] },
        `${name} has its own role`,
      );
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      assert.equal(variables.SIGN_REQUESTS, 'true');
      assert.match(
        String(variables.NODE_OPTIONS),
        /--require \/var\/task\/dist\/functions\/shared\/telemetry\/tracing\.js/,
      );
      // Node 24 refuses it in NODE_OPTIONS ("is not allowed in NODE_OPTIONS"): every init would fail.
      assert.doesNotMatch(String(variables.NODE_OPTIONS), /--experimental-async-context-frame/);
      assert.equal(variables.LAMBDA_TASK_ROOT, undefined, 'a reserved variable is never set');
      assert.equal(
        variables.AWS_ENDPOINT_URL_DYNAMODB,
        undefined,
        'deployed functions use the real DynamoDB',
      );
      assert.deepEqual(variables.SERVICES_BASE_URL, {
        // CloudFormation's own ${...} substitution, not a JavaScript template.
        'Fn::Sub': [
          'https://$',
          '{ApiGatewayRestApi}.execute-api.$',
          '{AWS::Region}.$',
          '{AWS::URLSuffix}/prod',
        ].join(''),
      });
    }
    for (const caller of MANIFESTS) {
      for (const call of caller.calls) {
        const callee = servingFunction(call);
        assert.ok(callee, `${caller.name} calls ${call}, which a function serves`);
        // Calls get the caller's remaining time minus a 1 s compensation reserve: still longer than the callee's.
        assert.ok(caller.timeout - 1 >= callee.timeout, `${caller.name} outwaits ${callee.name} (${call})`);
      }
    }
  });

  it('gives each function one role with only the actions and resources it needs', () => {
    // Besides the functions' roles, only API Gateway's own, for its access logs (api-stage.cjs).
    const roles = Object.fromEntries(
      ofType('AWS::IAM::Role').filter(([logicalId]) => logicalId !== 'ApiGatewayCloudWatchRole'),
    );
    assert.deepEqual(
      Object.keys(roles).sort(),
      Object.keys(FUNCTIONS)
        .map((name) => `${name}Role`)
        .sort(),
    );
    for (const [name, expected] of Object.entries(FUNCTIONS)) {
      const policies = (roles[`${name}Role`] as Resource).Properties.Policies as Array<{
        PolicyDocument: { Statement: Statement[] };
      }>;
      const statements = policies.flatMap((policy) => policy.PolicyDocument.Statement);
      for (const statement of statements) {
        assert.equal(statement.Effect, 'Allow');
        for (const action of [statement.Action].flat())
          assert.doesNotMatch(action, /\*/, `${name}: ${action}`);
        assert.notEqual(statement.Resource, '*', `${name}: no statement on every resource`);
      }
      const dynamo = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
      const tables = dynamo.map((s) => tableOf(s.Resource));
      assert.deepEqual(tables.sort(), [...expected.tables].sort(), `${name} touches only its tables`);
      const invoke = statements.find((s) => s.Action === 'execute-api:Invoke');
      const routes = ((invoke?.Resource as Array<{ 'Fn::Sub': string }>) ?? []).map((r) =>
        r['Fn::Sub'].replace(/^.*\/prod\//, ''),
      );
      assert.deepEqual(
        routes.sort(),
        [...expected.invokes].sort(),
        `${name} calls only its downstream routes`,
      );
      const logs = statements.find((s) => s.Sid === 'OwnLogGroup');
      assert.deepEqual(logs?.Resource, { 'Fn::GetAtt': [`${name}LogGroup`, 'Arn'] });
    }
    const inventoryActions = (roles.InventoryRole as Resource).Properties.Policies as Array<{
      PolicyDocument: { Statement: Statement[] };
    }>;
    const inventoryStock = inventoryActions[0]?.PolicyDocument.Statement.find((s) => s.Sid === 'Inventory');
    assert.deepEqual(inventoryStock?.Action, ['dynamodb:UpdateItem', 'dynamodb:BatchGetItem']);
  });

  it("commits completed orders from the orders table's stream: the mapping's filter and limits, an encrypted failure queue, a role that reads that stream and sends to that queue", () => {
    const orders = resources.OrdersTable as Resource;
    assert.deepEqual(orders.Properties.StreamSpecification, { StreamViewType: 'NEW_AND_OLD_IMAGES' });
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, mapping]) => mapping.Properties);
    assert.equal(mappings.length, 1);
    const mapping = mappings[0] as Record<string, unknown>;
    assert.deepEqual(mapping.EventSourceArn, { 'Fn::GetAtt': ['OrdersTable', 'StreamArn'] });
    assert.deepEqual(mapping.FunctionName, { 'Fn::GetAtt': ['CommitterLambdaFunction', 'Arn'] });
    assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.equal(mapping.BisectBatchOnFunctionError, true);
    assert.equal(mapping.MaximumRetryAttempts, 3);
    assert.equal(mapping.MaximumRecordAgeInSeconds, 3600);
    assert.equal(mapping.BatchSize, 10);
    assert.equal(mapping.MaximumBatchingWindowInSeconds, 1);
    const [filter] = (mapping.FilterCriteria as { Filters: Array<{ Pattern: string }> }).Filters;
    assert.deepEqual(JSON.parse(String(filter?.Pattern)), {
      eventName: ['MODIFY'],
      dynamodb: {
        NewImage: { status: { S: ['COMPLETED'] } },
        OldImage: { status: { S: [{ 'anything-but': ['COMPLETED'] }] } },
      },
    });
    assert.deepEqual(mapping.DestinationConfig, {
      OnFailure: { Destination: { 'Fn::GetAtt': ['CommitterFailuresQueue', 'Arn'] } },
    });
    const queue = resources.CommitterFailuresQueue as Resource;
    assert.equal(queue.Type, 'AWS::SQS::Queue');
    assert.equal(queue.Properties.SqsManagedSseEnabled, true, 'encrypted at rest');
    const statements = (
      (resources.CommitterRole as Resource).Properties.Policies as Array<{
        PolicyDocument: { Statement: Statement[] };
      }>
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const sends = statements.filter((statement) =>
      [statement.Action].flat().some((a) => a.startsWith('sqs:')),
    );
    assert.deepEqual(
      sends.map((statement) => [statement.Action, statement.Resource]),
      [['sqs:SendMessage', { 'Fn::GetAtt': ['CommitterFailuresQueue', 'Arn'] }]],
    );
  });

  it('runs the reaper every minute, finding overdue orders through a sparse index, never a scan', () => {
    const rules = ofType('AWS::Events::Rule').map(([, rule]) => rule.Properties);
    assert.equal(rules.length, 1);
    assert.equal(rules[0]?.ScheduleExpression, 'rate(1 minute)');
    assert.equal(rules[0]?.State, 'ENABLED');
    const targets = rules[0]?.Targets as Array<{ Arn: unknown }>;
    assert.deepEqual(targets[0]?.Arn, { 'Fn::GetAtt': ['ReaperLambdaFunction', 'Arn'] });
    const permissions = ofType('AWS::Lambda::Permission').map(([, permission]) => permission.Properties);
    assert.ok(
      permissions.some(
        (p) =>
          p.Principal === 'events.amazonaws.com' &&
          JSON.stringify(p.FunctionName).includes('ReaperLambdaFunction'),
      ),
      'EventBridge may invoke the reaper',
    );

    const orders = resources.OrdersTable as Resource;
    assert.deepEqual(orders.Properties.GlobalSecondaryIndexes, [
      {
        IndexName: 'unsettled-by-deadline',
        KeySchema: [
          { AttributeName: 'unsettled', KeyType: 'HASH' },
          { AttributeName: 'deadline', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['status', 'trace_id', 'span_id'] },
      },
    ]);
    const statements = (
      (resources.ReaperRole as Resource).Properties.Policies as Array<{
        PolicyDocument: { Statement: Statement[] };
      }>
    ).flatMap((policy) => policy.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('dynamodb:'));
    assert.deepEqual(actions.sort(), ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    const query = statements.find((s) => [s.Action].flat().includes('dynamodb:Query'));
    assert.equal(
      tableOf(query?.Resource),
      'OrdersTable/index/unsettled-by-deadline',
      'Query on the index only',
    );
  });

  it('leaves only POST /api/order and GET /api/order/{id} public; the internal routes need IAM signatures', () => {
    const methods = ofType('AWS::ApiGateway::Method').map(([, method]) => method.Properties);
    const publicMethods = methods.filter((m) => m.AuthorizationType === 'NONE');
    const internal = methods.filter((m) => m.AuthorizationType === 'AWS_IAM');
    const routes = MANIFESTS.flatMap((fn) => fn.routes.map((route) => ({ route, public: fn.public })));
    assert.equal(publicMethods.length, routes.filter((route) => route.public).length);
    assert.equal(internal.length, routes.filter((route) => !route.public).length);
    assert.equal(methods.length, routes.length, 'no method without authorization settled');
    const publicPaths = publicMethods.map((m) => {
      const resourceId = (m.ResourceId as { Ref: string }).Ref;
      return `${m.HttpMethod} ${resourceId}`;
    });
    assert.deepEqual(publicPaths.sort(), [
      'GET ApiGatewayResourceApiOrderIdVar',
      'POST ApiGatewayResourceApiOrder',
    ]);
  });

  it('answers throttles, crashes, timeouts and refusals with JSON Gateway Responses: a Lambda throttle is 429 with Retry-After, an unknown route 404', () => {
    interface GatewayResponseProperties {
      ResponseType: string;
      StatusCode?: string;
      RestApiId: unknown;
      ResponseParameters: Record<string, string>;
      ResponseTemplates: Record<string, string>;
    }
    const responses = Object.values(resources).filter(
      (resource) => resource.Type === 'AWS::ApiGateway::GatewayResponse',
    ) as unknown as Array<{ Properties: GatewayResponseProperties }>;
    const byType: Record<string, GatewayResponseProperties> = Object.fromEntries(
      responses.map((r) => [r.Properties.ResponseType, r.Properties]),
    );
    assert.deepEqual(Object.keys(byType).sort(), [
      'ACCESS_DENIED',
      'DEFAULT_4XX',
      'DEFAULT_5XX',
      'EXPIRED_TOKEN',
      'INTEGRATION_FAILURE',
      'INTEGRATION_TIMEOUT',
      'INVALID_API_KEY',
      'INVALID_SIGNATURE',
      'MISSING_AUTHENTICATION_TOKEN',
      'QUOTA_EXCEEDED',
      'REQUEST_TOO_LARGE',
      'THROTTLED',
    ]);
    for (const [type, properties] of Object.entries(byType)) {
      assert.deepEqual(properties.RestApiId, { Ref: 'ApiGatewayRestApi' }, type);
      assert.equal(
        properties.ResponseParameters['gatewayresponse.header.Content-Type'],
        "'application/json'",
      );
      const body = JSON.parse(String(properties.ResponseTemplates['application/json']));
      assert.deepEqual(Object.keys(body), ['status', 'message', 'category', 'trace_id'], type);
      assert.equal(body.status, 'failure');
      assert.equal(body.trace_id, '$context.requestId', `${type}: the request id, which the access log has`);
    }
    const of = (type: string) => byType[type] as GatewayResponseProperties;
    for (const type of ['INTEGRATION_FAILURE', 'THROTTLED']) {
      assert.equal(of(type).StatusCode, '429', type);
      assert.equal(of(type).ResponseParameters['gatewayresponse.header.Retry-After'], "'1'", type);
      assert.equal(JSON.parse(String(of(type).ResponseTemplates['application/json'])).category, 'throttled');
    }
    assert.equal(of('INTEGRATION_TIMEOUT').StatusCode, '504');
    assert.equal(of('DEFAULT_5XX').StatusCode, undefined, "API Gateway's own 5xx status is kept");
    assert.equal(of('DEFAULT_4XX').StatusCode, undefined, "API Gateway's own 4xx status is kept");
    // An unknown route or method: 404 with the body, instead of 403 "Missing Authentication Token".
    assert.equal(of('MISSING_AUTHENTICATION_TOKEN').StatusCode, '404');
    const noRoute = JSON.parse(
      String(of('MISSING_AUTHENTICATION_TOKEN').ResponseTemplates['application/json']),
    );
    assert.equal(noRoute.category, 'not_found');
    for (const type of ['ACCESS_DENIED', 'INVALID_SIGNATURE', 'EXPIRED_TOKEN', 'INVALID_API_KEY']) {
      const body = JSON.parse(String(of(type).ResponseTemplates['application/json']));
      assert.equal(body.category, 'forbidden', type);
    }
  });

  it("exports to the stage's own endpoint: no loopback or localhost URL anywhere in the template", () => {
    assert.doesNotMatch(template, /localhost|127\.0\.0\.1|\[::1\]/);
    for (const [, fn] of ofType('AWS::Lambda::Function')) {
      const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      assert.equal(variables.OTEL_EXPORTER_OTLP_ENDPOINT, PACKAGED_OTLP_ENDPOINT);
      assert.equal(variables.LOKI_URL, '', 'logs go to CloudWatch unless the stage names its Loki');
    }
  });

  it('refuses to package a stage whose endpoint is loopback, localhost or missing, naming the setting', async () => {
    const params: Array<Record<string, string>> = [
      { otlpEndpoint: 'http://127.0.0.1:4318' },
      { otlpEndpoint: 'http://localhost:4318' },
      {},
    ];
    for (const given of params) {
      await assert.rejects(packageStage('prod', {}, given), (error: Error) => {
        assert.match(error.message, /Not packaging stage "prod": param otlpEndpoint/);
        return true;
      });
    }
    await assert.rejects(
      packageStage('prod', {}, { otlpEndpoint: PACKAGED_OTLP_ENDPOINT, lokiUrl: 'http://localhost:3100' }),
      /param lokiUrl is http:\/\/localhost:3100/,
    );
  });

  it("takes nothing from the packaging shell: the developer's settings stay local", async () => {
    // Read only by the local stage's params: set in the shell, they change nothing in a prod package.
    const localOnly = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      LOKI_URL: 'http://127.0.0.1:3100',
      LOG_LEVEL: 'debug',
      OTEL_TRACES_SAMPLER: 'always_off',
      PUBLIC_TRACE_CONTEXT: 'continue',
    };
    const packaged = await packageStage('prod', localOnly);
    try {
      const text = readFileSync(path.join(packaged.dir, 'cloudformation-template-update-stack.json'), 'utf8');
      assert.doesNotMatch(text, /127\.0\.0\.1|always_off|"debug"/);
      assert.doesNotMatch(text, /"INBOUND_TRACE_CONTEXT":"continue"/);
    } finally {
      rmSync(packaged.dir, { recursive: true, force: true });
    }
    // Read by the functions' settings themselves: set in the shell, the package is refused, naming them.
    await assert.rejects(
      packageStage('prod', { FRAUD_PERCENTAGE: '100', OTEL_SDK_DISABLED: 'true' }),
      (error: Error) => {
        assert.match(
          error.message,
          /Not packaging stage "prod": FRAUD_PERCENTAGE, OTEL_SDK_DISABLED are set in this shell/,
        );
        return true;
      },
    );
  });

  it('reserves concurrency for every function, more for each one the public function reaches than for it', () => {
    const reserved = Object.fromEntries(
      ofType('AWS::Lambda::Function').map(([logicalId, fn]) => [
        logicalId.replace(/LambdaFunction$/, ''),
        fn.Properties.ReservedConcurrentExecutions,
      ]),
    );
    for (const [name, value] of Object.entries(reserved)) assert.ok(Number(value) >= 1, `${name}: ${value}`);
    const publicShare = Number(reserved.ApiGateway);
    for (const name of ['Order', 'Inventory', 'Warehouse', 'Payment', 'Fraud']) {
      assert.ok(
        Number(reserved[name]) > publicShare,
        `${name} ${reserved[name]} > ApiGateway ${publicShare}`,
      );
    }
    assert.equal(reserved.Reaper, 1, 'one reaper run at a time');
  });

  it('gives the stage its limits in the template: throttling, JSON access logs with the request id, metrics', () => {
    const stages = ofType('AWS::ApiGateway::Stage');
    assert.equal(stages.length, 1);
    const [, stage] = stages[0] as [string, Resource];
    assert.equal(stage.Properties.StageName, 'prod');
    assert.deepEqual(stage.Properties.MethodSettings, [
      {
        HttpMethod: '*',
        ResourcePath: '/*',
        ThrottlingRateLimit: 100,
        ThrottlingBurstLimit: 200,
        MetricsEnabled: true,
        LoggingLevel: 'OFF',
        DataTraceEnabled: false,
      },
    ]);
    const access = stage.Properties.AccessLogSetting as { DestinationArn: unknown; Format: string };
    assert.deepEqual(access.DestinationArn, { 'Fn::GetAtt': ['ApiGatewayAccessLogGroup', 'Arn'] });
    const format = JSON.parse(access.Format);
    assert.equal(format.request_id, '$context.requestId', "the id in API Gateway's own answers' trace_id");
    assert.equal(
      format.lambda_request_id,
      '$context.integration.requestId',
      "the public function's request id: the trace id, in UUID form",
    );
    assert.equal(format.status, '$context.status');
    for (const [, deployment] of ofType('AWS::ApiGateway::Deployment')) {
      assert.equal(
        deployment.Properties.StageName,
        undefined,
        'the stage is the Stage resource, not the Deployment',
      );
    }
    assert.equal((resources.ApiGatewayAccount as Resource).Type, 'AWS::ApiGateway::Account');
    // CORS is off by decision (docs/deploying.md): no preflight methods, no Access-Control headers anywhere.
    const methods = ofType('AWS::ApiGateway::Method').map(([, method]) => method.Properties.HttpMethod);
    assert.ok(!methods.includes('OPTIONS'), `methods: ${methods}`);
    assert.doesNotMatch(template, /Access-Control-Allow-Origin/);
  });

  const handlerFileOf = (logicalId: string) => {
    const handler = String((resources[logicalId] as Resource).Properties.Handler);
    return `${handler.slice(0, handler.lastIndexOf('.'))}.js`;
  };

  it('ships a code cache of its handler and SDK for the Node that packaged it, on this machine and deployed', () => {
    const node = `${process.version}-${process.arch}`;
    for (const [logicalId, zip] of zips) {
      const folders = new Set(
        Object.keys(zip.files).flatMap((name) => /^compile-cache\/([^/]+)\/.+$/.exec(name)?.[1] ?? []),
      );
      const own = [...folders].find((folder) => folder === node);
      assert.ok(own, `${logicalId}: a cache Node ${process.version} reads here, in ${[...folders]}`);
      const entries = Object.keys(zip.files).filter((name) => name.startsWith(`compile-cache/${own}/`));
      // The preload itself loads before the cache is in place: it is a few hundred bytes.
      assert.deepEqual(
        entries.map((name) => name.slice(`compile-cache/${own}/`.length)).sort(),
        [handlerFileOf(logicalId), 'dist/functions/shared/telemetry/tracing-sdk.js'].sort(),
      );
    }
  });

  it('ships the compile cache for arm64, the architecture the functions deploy on', {
    skip: skipForeignCache,
  }, () => {
    for (const [logicalId, fn] of ofType('AWS::Lambda::Function'))
      assert.deepEqual(fn.Properties.Architectures, ['arm64'], logicalId);
    for (const [logicalId, zip] of zips) {
      assert.ok(
        Object.keys(zip.files).some((name) => name.startsWith(`compile-cache/${process.version}-arm64/`)),
        `${logicalId}: a cache for Node ${process.version} on arm64`,
      );
    }
  });

  it('holds no secret values in the template or the package', async () => {
    const secretPatterns = [
      /AKIA[0-9A-Z]{16}/,
      // A key's value, not its name: the bundled AWS SDK names the setting in its ini-file loader.
      /aws_secret_access_key\s*=\s*[A-Za-z0-9/+]{20,}/i,
      /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
      /Authorization=Basic%20[A-Za-z0-9+/=]{8,}|Basic [A-Za-z0-9+/]{16,}={0,2}/,
      /glc_[A-Za-z0-9]{20,}/,
    ];
    for (const pattern of secretPatterns) assert.doesNotMatch(template, pattern);
    const functionsEnv = ofType('AWS::Lambda::Function').map(
      ([, fn]) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    );
    for (const variables of functionsEnv) {
      assert.equal(variables.OTEL_EXPORTER_OTLP_HEADERS, '', 'OTLP headers come from SSM, not the template');
      assert.equal(variables.OTEL_EXPORTER_OTLP_HEADERS_SSM_PARAMETER, '/orders/prod/otlp-headers');
    }
    for (const [logicalId, zip] of zips) {
      const handler = String((resources[logicalId] as Resource).Properties.Handler);
      // The function's bundle, the tracing preload and the SDK start it requires when tracing is on, their
      // compile cache, and nothing else: no tests, scripts, node_modules or keys.
      assert.deepEqual(
        Object.keys(zip.files)
          .filter((name) => !name.startsWith('compile-cache/'))
          .sort(),
        [
          `${handler.slice(0, handler.lastIndexOf('.'))}.js`,
          'dist/functions/shared/telemetry/tracing.js',
          'dist/functions/shared/telemetry/tracing-sdk.js',
          'package.json',
        ].sort(),
      );
      for (const [name, file] of Object.entries(zip.files)) {
        const text = await file.async('string');
        for (const pattern of secretPatterns) assert.doesNotMatch(text, pattern, `${logicalId}: ${name}`);
      }
    }
  });
});
