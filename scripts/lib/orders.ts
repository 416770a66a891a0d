/**
 * How the tools, the benchmarks and the tests place an order: one payload builder and one POST, so that a
 * figure and a test measure the same request.
 */
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';

/** The seed project's `create_order.sh` payload, unchanged (string `user_id` and `amount`). */
export const SEED_ORDER = LOCAL_DEFAULTS.seedOrder;

/** The seed's order; given `itemId`, `quantity` of that item instead, priced by the server (no `amount`). */
export function orderBody(itemId?: string, quantity = 1): Record<string, unknown> {
  if (itemId === undefined) return { ...SEED_ORDER };
  const { amount: _amount, ...seed } = SEED_ORDER;
  return { ...seed, items: [{ item_id: itemId, quantity }] };
}

export interface PlacedOrder {
  status: number;
  /** The answer's body, as text. */
  text: string;
  /** From the request to the whole answer, at the client. */
  ms: number;
  json(): Record<string, unknown>;
}

/**
 * POSTs one order to `apiUrl` + `/api/order` and answers its status, body and latency. A JSON body is sent as
 * it is given when it is a string (the benchmarks serialize theirs once).
 */
export async function placeOrder(
  apiUrl: string,
  body: unknown = SEED_ORDER,
  { signal }: { signal?: AbortSignal } = {},
): Promise<PlacedOrder> {
  const started = performance.now();
  const response = await fetch(`${apiUrl}/api/order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  return { status: response.status, text, ms, json: () => JSON.parse(text) as Record<string, unknown> };
}
