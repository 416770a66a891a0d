import { derive, type Manifest } from '#local-runtime/manifests.cjs';

/** One function's manifest (functions/<name>/function.yml), as local-runtime/manifests.cjs reads and checks it. */
export type FunctionManifest = Manifest;
export { derive };

const derived = derive();

/** Every function's manifest, in folder order. */
export const MANIFESTS: readonly FunctionManifest[] = derived.manifests;

/** The functions an order passes through, in call order from the public one (local-runtime/manifests.cjs). */
export const ORDER_PATH_SERVICES: readonly string[] = derived.orderPath.map((fn) => fn.service);

/** The function that serves a route ("POST /order"). */
export function servingFunction(route: string): FunctionManifest | undefined {
  return MANIFESTS.find((fn) => fn.routes.includes(route));
}
