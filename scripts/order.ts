/**
 * `npm run order`: posts the seed project's order (create_order.sh) and prints the answer, then reads the
 * order back. ORDER_API_URL changes the target (default http://localhost:4000).
 */
const base = (process.env.ORDER_API_URL ?? `http://localhost:${process.env.HTTP_PORT ?? 4000}`).replace(
  /\/$/,
  '',
);

export const SEED_ORDER = {
  user_id: '123',
  items: [{ item_id: 'sku001', quantity: 1 }],
  amount: '49.99',
  payment_method: 'credit_card',
  shipping_address: '10 Main Street, CA',
};

async function main(): Promise<void> {
  const created = await fetch(`${base}/api/order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(SEED_ORDER),
  });
  const body = (await created.json()) as Record<string, unknown>;
  console.log(`POST ${base}/api/order → ${created.status}`);
  console.log(JSON.stringify(body, null, 2));
  if (typeof body.order_id === 'string') {
    const read = await fetch(`${base}/api/order/${body.order_id}`);
    console.log(`GET ${base}/api/order/${body.order_id} → ${read.status}`);
    console.log(JSON.stringify(await read.json(), null, 2));
  }
  if (typeof body.trace_id === 'string') {
    console.log(`\nIn Grafana (http://localhost:3000): Explore → Tempo → TraceQL → ${body.trace_id}`);
  }
  process.exitCode = created.ok ? 0 : 1;
}

if (require.main === module) {
  main().catch((error) => {
    console.error(
      `Could not reach ${base}: is \`npm start\` running? (${error instanceof Error ? error.message : error})`,
    );
    process.exitCode = 1;
  });
}
