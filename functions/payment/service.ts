import { randomUUID } from 'node:crypto';
import { DomainError } from '../shared/contracts/errors';
import type { FraudAssessment, PaymentAuthorization, PaymentRequest } from '../shared/contracts/schemas';
import type { ServiceClient } from '../shared/http/service-client';
import { annotate } from '../shared/telemetry/api';
import { logger } from '../shared/telemetry/logger';
import { declineReason, type PaymentRules } from './rules';

export async function authorizePayment(
  request: PaymentRequest,
  rules: PaymentRules,
  fraud: Pick<ServiceClient, 'post'>,
): Promise<PaymentAuthorization> {
  const declined = declineReason(request, rules);
  if (declined) {
    annotate({ 'payment.status': 'declined' });
    logger.warn(declined);
    throw new DomainError('payment_declined', declined);
  }
  let assessment: FraudAssessment;
  try {
    assessment = await fraud.post('POST /fraud/check', {
      order_id: request.order_id,
      user_id: request.user_id,
      amount_cents: request.amount_cents,
      payment_method: request.payment_method,
    });
  } catch (error) {
    annotate({ 'payment.status': 'error' });
    throw error;
  }
  if (assessment.verdict === 'fraudulent') {
    annotate({ 'payment.status': 'rejected_fraud' });
    throw new DomainError('fraud_detected', 'Payment rejected: the transaction was flagged as fraudulent');
  }
  const authorization: PaymentAuthorization = { status: 'authorized', authorization_id: randomUUID() };
  annotate({ 'payment.status': 'authorized' });
  logger.info({ amount_cents: request.amount_cents }, 'payment authorized');
  return authorization;
}
