import type { Endpoint } from './router';

/**
 * The routes of every function that holds reservations, with one contract each: `POST /<function>/release`
 * gives stock back (idempotent; refused once committed), `POST /<function>/commit` marks it sold (idempotent).
 */
export function releaseEndpoint(
  release: (orderId: string) => Promise<unknown[]>,
): Endpoint<'POST /inventory/release' | 'POST /warehouse/release'> {
  return async ({ body }) => {
    const released = await release(body.order_id);
    return {
      statusCode: 200,
      body: { status: released.length > 0 ? 'released' : 'nothing_to_release', released },
    };
  };
}

export function commitEndpoint(
  commit: (orderId: string) => Promise<void>,
): Endpoint<'POST /inventory/commit' | 'POST /warehouse/commit'> {
  return async ({ body }) => {
    await commit(body.order_id);
    return { statusCode: 200, body: { status: 'committed' } };
  };
}
