import type { Endpoint } from './router';

/** The `POST /<function>/release` route: the same contract for every function that holds reservations. */
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
