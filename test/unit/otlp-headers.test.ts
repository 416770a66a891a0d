import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { headersFromSsm } from '../../functions/shared/telemetry/otlp-headers';
import { SsmStandIn } from '../../scripts/deployed/ssm-stand-in';

describe('headersFromSsm (the OTLP headers a deployed function reads from SSM)', () => {
  const ssm = new SsmStandIn({
    '/orders/test/otlp-headers': 'authorization=Basic%20dXNlcjp0b2tlbg==,x-scope-orgid=t1',
  });
  const saved = { ...process.env };
  before(async () => {
    await ssm.start();
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SSM: ssm.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'example-secret',
      AWS_SESSION_TOKEN: 'example-token',
    });
  });
  /** Where the preload's settings say SSM is: the stand-in, in the sandbox's region. */
  const where = () => ({ region: 'eu-west-1', endpoint: ssm.url });
  after(async () => {
    process.env = saved;
    await ssm.stop();
  });

  it('reads the SecureString once, with a SigV4-signed GetParameter, and parses it as OTLP headers', async () => {
    const headers = headersFromSsm('/orders/test/otlp-headers', where());
    assert.deepEqual(await headers(), { authorization: 'Basic dXNlcjp0b2tlbg==', 'x-scope-orgid': 't1' });
    assert.deepEqual(await headers(), { authorization: 'Basic dXNlcjp0b2tlbg==', 'x-scope-orgid': 't1' });
    assert.deepEqual(ssm.requested, ['/orders/test/otlp-headers'], 'read once, then cached');
    assert.match(
      ssm.authorizations[0] ?? '',
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ssm\/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[\da-f]{64}$/,
    );
  });

  it('answers no headers when the parameter does not exist: an endpoint without auth still works', async () => {
    assert.deepEqual(await headersFromSsm('/orders/test/missing', where())(), {});
  });

  it('fails, and tries again at the next export, when SSM cannot be reached', async () => {
    const location = { ...where(), endpoint: 'http://127.0.0.1:9' };
    const headers = headersFromSsm('/orders/test/otlp-headers', location);
    await assert.rejects(headers(), /ECONNREFUSED/);
    location.endpoint = ssm.url;
    assert.equal((await headers())['x-scope-orgid'], 't1');
  });
});
