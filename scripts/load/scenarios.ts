/** The traffic mix of `npm run load`: mostly good orders, with the refusals the dashboards should show. */

export interface Scenario {
  name: string;
  weight: number;
  body: () => Record<string, unknown>;
}

const address = '10 Main Street, CA';
const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)] as T;
const user = () => String(100 + Math.floor(Math.random() * 900));

export const SCENARIOS: Scenario[] = [
  {
    name: 'success',
    weight: 70,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku001', quantity: 1 + Math.floor(Math.random() * 3) }],
      amount: (20 + Math.random() * 200).toFixed(2),
      payment_method: pick(['credit_card', 'debit_card', 'paypal']),
      shipping_address: address,
    }),
  },
  {
    name: 'out of stock',
    weight: 10,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku002', quantity: 999 }],
      amount: '99.00',
      payment_method: 'paypal',
      shipping_address: address,
    }),
  },
  {
    name: 'unknown item',
    weight: 5,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku404', quantity: 1 }],
      amount: '5.00',
      payment_method: 'paypal',
      shipping_address: address,
    }),
  },
  {
    name: 'fraud',
    weight: 8,
    body: () => ({
      user_id: '666',
      items: [{ item_id: 'sku001', quantity: 1 }],
      amount: '49.99',
      payment_method: 'credit_card',
      shipping_address: address,
    }),
  },
  {
    name: 'declined',
    weight: 7,
    body: () => ({
      user_id: user(),
      items: [{ item_id: 'sku001', quantity: 1 }],
      amount: '49.99',
      payment_method: 'credit_card',
      shipping_address: address,
      card: { number: '4000000000000002', expiry: '12/30' },
    }),
  },
];

export function chooseScenario(draw: number): Scenario {
  const total = SCENARIOS.reduce((sum, scenario) => sum + scenario.weight, 0);
  let threshold = draw * total;
  for (const scenario of SCENARIOS) {
    threshold -= scenario.weight;
    if (threshold < 0) return scenario;
  }
  return SCENARIOS[0] as Scenario;
}
