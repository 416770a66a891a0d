import { derive, type Manifest } from '#local-runtime/manifests.cjs';

/** One function's manifest (functions/<name>/function.yml), as local-runtime/manifests.cjs reads and checks it. */
export type FunctionManifest = Manifest;
export { derive };

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
