import { readSettings } from '../shared/config/settings';
import { httpRouter } from '../shared/http/router';
import { createServiceClient } from '../shared/http/service-client';
import { annotate } from '../shared/telemetry/api';
import type { PaymentRules } from './rules';
import { authorizePayment } from './service';

const env = readSettings(['PAYMENT_LIMIT', 'PAYMENT_DECLINED_CARD_SUFFIX']);
const rules: PaymentRules = {
  limit: env.PAYMENT_LIMIT,
  declinedCardSuffix: env.PAYMENT_DECLINED_CARD_SUFFIX,
};
const fraud = createServiceClient('fraud-service');

export const handler = httpRouter({
  'POST /payment/authorize': async ({ body }) => {
    annotate({
      'payment.amount_cents': body.amount_cents,
      'payment.method': body.payment_method,
    });
    return { statusCode: 200, body: await authorizePayment(body, rules, fraud) };
  },
});
