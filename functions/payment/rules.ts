import type { PaymentRequest } from '../shared/contracts/schemas';

export interface PaymentRules {
  /** Amounts above this (in currency units, e.g. 5000) are declined: the account's limit. */
  limit: number;
  /** Cards ending in these digits are declined, like the payment networks' test cards ("4000 0000 0000 0002"). */
  declinedCardSuffix: string;
}

/** Why a payment is declined, or undefined when the deterministic rules let it through. */
export function declineReason(request: PaymentRequest, rules: PaymentRules): string | undefined {
  if (request.amount_cents > rules.limit * 100)
    return `Payment declined: amount exceeds the limit of ${rules.limit}`;
  if (request.card_last4 === rules.declinedCardSuffix) return 'Payment declined by the card issuer';
  return undefined;
}
