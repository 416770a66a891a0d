import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from './dynamodb-local';

/** One function's manifest (functions/<name>/function.yml), as plugins/function-manifests.cjs reads it. */
export interface FunctionManifest {
  /** Its folder: "api-gateway". */
  name: string;
  /** Its key in serverless.yml: "apiGateway". */
  key: string;
  /** The prefix of its CloudFormation logical ids: "ApiGateway" (ApiGatewayLambdaFunction, ApiGatewayRole). */
  logicalId: string;
  /** OTEL_SERVICE_NAME: the service its spans and log lines carry. */
  service: string;
  timeout: number;
  public: boolean;
  routes: string[];
  schedule?: { rate: string; offlineEverySeconds?: number | string };
  /** Table key (as in serverless.yml's custom.tables) → DynamoDB actions. */
  tables: Record<string, string[]>;
  /** "<table key>/<index name>" → DynamoDB actions. */
  indexes: Record<string, string[]>;
  calls: string[];
  environment: Record<string, string>;
}

/** What plugins/function-manifests.cjs derives: serverless.yml's functions, the roles, offline schedules. */
export interface Derived {
  manifests: FunctionManifest[];
  functions: Record<string, { environment: Record<string, string>; events: unknown[] }>;
  roles: { Resources: Record<string, unknown> };
  offlineSchedules: Record<string, number | string>;
}

/** Derives everything from the manifests under `functionsDir` (default: the project's functions/). */
export const derive = (
  createRequire(__filename)(path.join(PROJECT_ROOT, 'plugins/function-manifests.cjs')) as {
    derive: (functionsDir?: string) => Derived;
  }
).derive;

/** Every function's manifest, in folder order. */
export const MANIFESTS: readonly FunctionManifest[] = derive().manifests;

/** The functions an order passes through (every one with routes), in call order from the public one. */
export const ORDER_PATH_SERVICES: readonly string[] = (() => {
  const servedBy = new Map(MANIFESTS.flatMap((fn) => fn.routes.map((route) => [route, fn] as const)));
  const ordered: FunctionManifest[] = [];
  const visit = (fn: FunctionManifest) => {
    if (ordered.includes(fn)) return;
    ordered.push(fn);
    for (const call of fn.calls) {
      const callee = servedBy.get(call);
      if (callee) visit(callee);
    }
  };
  for (const fn of MANIFESTS.filter((manifest) => manifest.public)) visit(fn);
  return ordered.map((fn) => fn.service);
})();

/** The function that serves a route ("POST /order"). */
export function servingFunction(route: string): FunctionManifest | undefined {
  return MANIFESTS.find((fn) => fn.routes.includes(route));
}
