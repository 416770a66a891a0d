import { readSettings } from '../shared/config/settings';
import { httpRouter } from '../shared/http/router';
import { randomSource } from '../shared/runtime/random';
import { annotate } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';
import { assessFraud, type FraudRules } from './rules';

const env = readSettings(['FRAUD_PERCENTAGE', 'FRAUD_BLOCKED_USER_IDS', 'FRAUD_SEED']);

const rules: FraudRules = {
  blockedUserIds: new Set(
    env.FRAUD_BLOCKED_USER_IDS.split(',')
      .map((id) => id.trim())
      .filter(Boolean),
  ),
  percentage: env.FRAUD_PERCENTAGE,
  random: randomSource(env.FRAUD_SEED >= 0 ? env.FRAUD_SEED : undefined),
};

export const handler = httpRouter({
  'POST /fraud/check': async ({ body }) => {
    const assessment = assessFraud(body, rules);
    annotate({
      'fraud.verdict': assessment.verdict,
      'fraud.reason': assessment.reason,
    });
    const log = assessment.verdict === 'fraudulent' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log(
      {
        user_id: body.user_id,
        verdict: assessment.verdict,
        reason: assessment.reason,
      },
      assessment.verdict === 'fraudulent'
        ? `Transaction flagged as fraudulent: order_id=${body.order_id}, user_id=${body.user_id}`
        : `Transaction passed fraud check: order_id=${body.order_id}, user_id=${body.user_id}`,
    );
    return { statusCode: 200, body: { status: 'checked', ...assessment } };
  },
});
