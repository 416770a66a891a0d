import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SigV4 for the requests this project signs itself: calls between functions through API Gateway's AWS_IAM
 * routes, and the one SSM read of the tracing preload. The credentials are the sandbox's role's, which Lambda
 * puts in every function's environment; the SDK's default provider chain (profiles, SSO, IMDS…) would add
 * several hundred kilobytes to each bundle to find the same three variables.
 */
export function signerFor(service: string, region = process.env.AWS_REGION ?? 'us-east-1'): SignatureV4 {
  return new SignatureV4({ service, region, credentials: environmentCredentials, sha256: Sha256 });
}

async function environmentCredentials() {
  const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = process.env;
  if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
    throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: nothing to sign with');
  }
  return {
    accessKeyId: AWS_ACCESS_KEY_ID,
    secretAccessKey: AWS_SECRET_ACCESS_KEY,
    ...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
  };
}
