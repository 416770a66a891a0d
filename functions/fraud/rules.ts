import type { FraudAssessment, FraudRequest } from '../shared/contracts/schemas';

/** The rules' decision: the route answers it as a checked assessment (see the API contract). */
export type FraudDecision = Pick<FraudAssessment, 'verdict' | 'reason'>;

export interface FraudRules {
  /** Users who are always flagged: the deterministic rule tests and demos use. */
  blockedUserIds: ReadonlySet<string>;
  /** Share of the remaining transactions flagged at random, as the seed's FRAUD_PERCENTAGE. */
  percentage: number;
  random: () => number;
}

export function assessFraud(request: FraudRequest, rules: FraudRules): FraudDecision {
  if (rules.blockedUserIds.has(request.user_id)) return { verdict: 'fraudulent', reason: 'blocked_user' };
  if (rules.random() * 100 < rules.percentage) return { verdict: 'fraudulent', reason: 'random_sample' };
  return { verdict: 'legitimate', reason: 'passed' };
}
