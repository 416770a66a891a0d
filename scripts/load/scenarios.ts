/** The traffic mix of `npm run load`: mostly good orders, with the refusals the dashboards should show. */

export interface Scenario {
  name: string;
  weight: number;
  body: () => Record<string, unknown>;
}

const address = '10 Main Street, CA';
const pick = <T>(values: T[]): T => values[Math.floor(Math.random() * values.length)] as T;
const user = () => String(100 + Math.floor(Math.random() * 900));

/**
 * An order of one line from a random user, shipped to the one address; `extra` adds or overrides fields. No
 * amount: the server prices the order from its catalog.
 */
const order = (itemId: string, quantity: number, paymentMethod: string, extra = {}) => ({
  user_id: user(),
  items: [{ item_id: itemId, quantity }],
  payment_method: paymentMethod,
  shipping_address: address,
  ...extra,
});

export const SCENARIOS: Scenario[] = [
  {
    name: 'success',
    weight: 70,
    body: () =>
      order('sku001', 1 + Math.floor(Math.random() * 3), pick(['credit_card', 'debit_card', 'paypal'])),
  },
  { name: 'out of stock', weight: 10, body: () => order('sku002', 999, 'paypal') },
  { name: 'unknown item', weight: 5, body: () => order('sku404', 1, 'paypal') },
  // The fraud function always flags user 666.
  { name: 'fraud', weight: 8, body: () => order('sku001', 1, 'credit_card', { user_id: '666' }) },
  {
    name: 'declined',
    weight: 7,
    // A card number the payment rules always decline.
    body: () => order('sku001', 1, 'credit_card', { card: { number: '4000000000000002', expiry: '12/30' } }),
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
