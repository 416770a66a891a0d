import type { FraudRequest } from '../shared/schemas';

export type FraudVerdict = 'legitimate' | 'fraudulent';

export interface FraudAssessment {
  verdict: FraudVerdict;
  reason: 'blocked_user' | 'random_sample' | 'passed';
}

export interface FraudRules {
  /** Users who are always flagged: the deterministic rule tests and demos use. */
  blockedUserIds: ReadonlySet<string>;
  /** Share of the remaining transactions flagged at random, as the seed's FRAUD_PERCENTAGE. */
  percentage: number;
  random: () => number;
}

export function assessFraud(request: FraudRequest, rules: FraudRules): FraudAssessment {
  if (rules.blockedUserIds.has(request.user_id)) return { verdict: 'fraudulent', reason: 'blocked_user' };
  if (rules.random() * 100 < rules.percentage) return { verdict: 'fraudulent', reason: 'random_sample' };
  return { verdict: 'legitimate', reason: 'passed' };
}
