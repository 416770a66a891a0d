import { randomUUID } from 'node:crypto';
import type { FraudAssessment } from '../fraud/rules';
import { DomainError } from '../shared/errors';
import { logger } from '../shared/logger';
import type { PaymentRequest } from '../shared/schemas';
import type { ServiceClient } from '../shared/service-client';
import { annotate } from '../shared/telemetry';
import { declineReason, type PaymentRules } from './rules';

export interface Authorization {
  status: 'authorized';
  authorization_id: string;
}

export async function authorizePayment(
  request: PaymentRequest,
  rules: PaymentRules,
  fraud: Pick<ServiceClient, 'post'>,
): Promise<Authorization> {
  const declined = declineReason(request, rules);
  if (declined) {
    annotate({ 'payment.status': 'declined' });
    logger.warn({ order_id: request.order_id }, declined);
    throw new DomainError('payment_declined', declined);
  }
  let assessment: FraudAssessment;
  try {
    assessment = await fraud.post<FraudAssessment>('/fraud/check', {
      order_id: request.order_id,
      user_id: request.user_id,
      amount: request.amount,
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
  const authorization: Authorization = { status: 'authorized', authorization_id: randomUUID() };
  annotate({ 'payment.status': 'authorized' });
  logger.info({ order_id: request.order_id, amount: request.amount }, 'payment authorized');
  return authorization;
}
