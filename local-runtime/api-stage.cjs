// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation's own ${...} substitutions, resolved by it.
'use strict';
/**
 * The deployed API's stage, in the template: the Framework makes the stage through its Deployment (and sets
 * logging afterwards with SDK calls, outside CloudFormation). This gives the stage a resource of its own,
 * with the edge's limits where a review can see them:
 * - throttling for every method (rate and burst, params `apiRateLimit` and `apiBurstLimit`);
 * - JSON access logs, in a log group of their own, with what each request cost and its ids: the request id
 *   (the `trace_id` of API Gateway's own answers) and the Lambda request id, which is the order's trace id
 *   in UUID form (the public function starts its trace with it: edge-context.ts, EdgeTraceIds);
 * - metrics per method; no execution logs (they would hold request bodies).
 * API Gateway writes access logs only once its account (per region) has a CloudWatch role: with
 * `accountRole`, the stack sets one (AWS::ApiGateway::Account is a singleton, so the last stack to set it
 * wins; `--param apiGatewayAccountRole=existing` leaves an account's own role alone).
 */

/** What each access log line holds: one JSON object per request. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  request_id: '$context.requestId',
  extended_request_id: '$context.extendedRequestId',
  // The trace id with dashes: a template only substitutes, so it cannot take them out.
  lambda_request_id: '$context.integration.requestId',
  ip: '$context.identity.sourceIp',
  request_time: '$context.requestTimeEpoch',
  method: '$context.httpMethod',
  route: '$context.resourcePath',
  status: '$context.status',
  response_length: '$context.responseLength',
  latency_ms: '$context.responseLatency',
  integration_latency_ms: '$context.integrationLatency',
  integration_status: '$context.integration.status',
  error: '$context.error.responseType',
});

const STAGE = 'ApiGatewayStage';
const ACCESS_LOGS = 'ApiGatewayAccessLogGroup';

/**
 * Moves the stage out of the Deployment into a Stage resource with the settings above.
 * @param {{ Resources: Record<string, { Type: string, Properties?: Record<string, any>, DependsOn?: string | string[] }> }} template
 * @param {{ stage: string, rateLimit: number, burstLimit: number, logRetentionInDays?: number, accountRole: boolean }} settings
 */
function addApiStage(template, { stage, rateLimit, burstLimit, logRetentionInDays, accountRole }) {
  const resources = template.Resources;
  const deployment = Object.entries(resources).find(
    ([, resource]) => resource.Type === 'AWS::ApiGateway::Deployment',
  );
  if (!deployment) return;
  const [deploymentId, deploymentResource] = deployment;
  delete deploymentResource.Properties?.StageName;
  resources[ACCESS_LOGS] = {
    Type: 'AWS::Logs::LogGroup',
    Properties: {
      LogGroupName: { 'Fn::Sub': `/aws/api-gateway/\${ApiGatewayRestApi}/${stage}/access` },
      ...(logRetentionInDays ? { RetentionInDays: logRetentionInDays } : {}),
    },
  };
  resources[STAGE] = {
    Type: 'AWS::ApiGateway::Stage',
    Properties: {
      RestApiId: { Ref: 'ApiGatewayRestApi' },
      DeploymentId: { Ref: deploymentId },
      StageName: stage,
      AccessLogSetting: { DestinationArn: { 'Fn::GetAtt': [ACCESS_LOGS, 'Arn'] }, Format: ACCESS_LOG_FORMAT },
      MethodSettings: [
        {
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: rateLimit,
          ThrottlingBurstLimit: burstLimit,
          MetricsEnabled: true,
          LoggingLevel: 'OFF',
          DataTraceEnabled: false,
        },
      ],
    },
  };
  if (accountRole) {
    resources.ApiGatewayCloudWatchRole = {
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'apigateway.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
        ManagedPolicyArns: [
          {
            'Fn::Sub':
              'arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs',
          },
        ],
      },
    };
    resources.ApiGatewayAccount = {
      Type: 'AWS::ApiGateway::Account',
      Properties: { CloudWatchRoleArn: { 'Fn::GetAtt': ['ApiGatewayCloudWatchRole', 'Arn'] } },
    };
    resources[STAGE].DependsOn = ['ApiGatewayAccount'];
  }
  // Whatever names the stage (a usage plan, the Framework's outputs) must wait for it to exist.
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::ApiGateway::UsagePlan') continue;
    resource.DependsOn = [...[resource.DependsOn ?? []].flat().filter((id) => id !== deploymentId), STAGE];
  }
}

module.exports = { addApiStage, ACCESS_LOG_FORMAT };
