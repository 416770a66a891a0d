// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are Serverless Framework variables.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { API } from '../../functions/shared/contracts/schemas';
import { derive, MANIFESTS, ORDER_PATH_SERVICES } from '../../scripts/lib/manifests';

const scratch = mkdtempSync(path.join(tmpdir(), 'manifests-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A functions/ folder holding the given manifests (folder name → YAML text). */
function functionsDir(manifests: Record<string, string>): string {
  const dir = mkdtempSync(path.join(scratch, 'functions-'));
  for (const [name, text] of Object.entries(manifests)) {
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'function.yml'), text);
  }
  return dir;
}

describe('function manifests', () => {
  it('serve every route of the API contract exactly once, and nothing outside it', () => {
    const served = MANIFESTS.flatMap((fn) => fn.routes);
    assert.deepEqual([...served].sort(), Object.keys(API).sort());
    const called = MANIFESTS.flatMap((fn) => fn.calls);
    for (const call of called) assert.ok(Object.hasOwn(API, call), `${call} is in the API contract`);
  });

  it('put the order path in call order from the public function', () => {
    assert.deepEqual(ORDER_PATH_SERVICES, [
      'api-gateway',
      'order-service',
      'inventory-service',
      'warehouse-service',
      'payment-service',
      'fraud-service',
    ]);
  });

  it('derive how many hops below each function its calls reach, a cycle counted once', () => {
    const { callDepths } = derive(
      functionsDir({
        front:
          'service: front\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /front]\ncalls: [GET /middle]',
        middle:
          'service: middle\ntimeout: 1\nreservedConcurrency: 3\nroutes: [GET /middle]\ncalls: [GET /leaf, GET /middle]',
        leaf: 'service: leaf\ntimeout: 1\nreservedConcurrency: 4\nroutes: [GET /leaf]',
        sweeper:
          'service: sweeper\ntimeout: 1\nreservedConcurrency: 1\nschedule: { rate: rate(1 minute) }\ncalls: [GET /front]',
      }),
    );
    assert.deepEqual(callDepths, { front: 2, leaf: 0, middle: 1, sweeper: 3 });
    // The order path: api-gateway → order → inventory → warehouse is the deepest chain.
    assert.deepEqual(
      Object.fromEntries(
        ['apiGateway', 'order', 'inventory', 'payment', 'warehouse', 'fraud'].map((key) => [
          key,
          derive().callDepths[key],
        ]),
      ),
      { apiGateway: 3, order: 2, inventory: 1, payment: 1, warehouse: 0, fraud: 0 },
    );
  });

  it("derive a function's block: its name, handler, role, table variables, settings and events", () => {
    const { functions, roles, offlineSchedules } = derive(
      functionsDir({
        'stock-check': [
          'service: stock-check',
          'timeout: 4',
          'reservedConcurrency: 3',
          'routes:',
          '  - GET /stock/{id}',
          'tables: { warehouseStock: [Query] }',
          'calls:',
          '  - GET /stock/{id}',
          "environment: { STOCK_LIMIT: '3' }",
        ].join('\n'),
        sweeper: [
          'service: sweeper',
          'timeout: 9',
          'reservedConcurrency: 1',
          'schedule: { rate: rate(5 minutes), offlineEverySeconds: 2 }',
        ].join('\n'),
      }),
    );
    assert.deepEqual(functions.stockCheck, {
      name: '${self:service}-${sls:stage}-stock-check',
      handler: 'dist/functions/stock-check/handler.handler',
      role: 'StockCheckRole',
      timeout: 4,
      reservedConcurrency: 3,
      environment: {
        OTEL_SERVICE_NAME: 'stock-check',
        WAREHOUSE_STOCK_TABLE: '${self:custom.tables.warehouseStock}',
        STOCK_LIMIT: '3',
      },
      events: [{ http: { method: 'get', path: '/stock/{id}', authorizer: '${param:internalAuthorizer}' } }],
    });
    assert.deepEqual(functions.sweeper?.events, [
      { schedule: { rate: 'rate(5 minutes)', enabled: '${param:schedulesEnabled}' } },
    ]);
    assert.deepEqual(offlineSchedules, { sweeper: 2 });
    const statements = JSON.stringify(roles.Resources.StockCheckRole);
    assert.match(statements, /"Sid":"WarehouseStock","Effect":"Allow","Action":\["dynamodb:Query"\]/);
    assert.match(statements, /\/GET\/stock\/\*"/);
    assert.doesNotMatch(JSON.stringify(roles.Resources.SweeperRole), /InvokeInternalRoutes|dynamodb:/);
  });

  for (const [mistake, manifests, message] of [
    [
      'an unknown key',
      { a: 'service: a\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /a]\nroute: [GET /b]' },
      /unknown key "route"/,
    ],
    ['no timeout', { a: 'service: a\nroutes: [GET /a]' }, /"timeout" must be whole seconds/],
    [
      'no reserved concurrency',
      { a: 'service: a\ntimeout: 1\nroutes: [GET /a]' },
      /"reservedConcurrency" must be a whole number/,
    ],
    [
      'a public function that could starve a function it reaches',
      {
        a: 'service: a\ntimeout: 1\nreservedConcurrency: 5\npublic: true\nroutes: [GET /a]\ncalls: [GET /b]',
        b: 'service: b\ntimeout: 1\nreservedConcurrency: 6\nroutes: [GET /b]\ncalls: [GET /c]',
        c: 'service: c\ntimeout: 1\nreservedConcurrency: 5\nroutes: [GET /c]',
      },
      /c\/function.yml: reservedConcurrency 5 must be above a's 5/,
    ],
    [
      'a route that is not METHOD /path',
      { a: 'service: a\ntimeout: 1\nreservedConcurrency: 2\nroutes: [/a]' },
      /"\/a" is not "METHOD \/path"/,
    ],
    [
      'a call nobody serves',
      { a: 'service: a\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /a]\ncalls: [GET /b]' },
      /no function serves GET \/b/,
    ],
    [
      'a route served twice',
      {
        a: 'service: a\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /a]',
        b: 'service: b\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /a]',
      },
      /b\/function.yml: GET \/a is also served by a/,
    ],
    [
      'a table without actions',
      { a: 'service: a\ntimeout: 1\nreservedConcurrency: 2\nroutes: [GET /a]\ntables: { orders: [] }' },
      /"orders" needs a list/,
    ],
  ] as const) {
    it(`stop the Framework on ${mistake}, naming the file`, () => {
      assert.throws(() => derive(functionsDir(manifests)), message);
    });
  }
});
