import { type LoopbackServer, listenOnLoopback, readBody } from '../lib/ports';

/**
 * A local stand-in for SSM Parameter Store's GetParameter (AWS_ENDPOINT_URL_SSM points the SDK at it): the
 * AWS JSON 1.1 protocol, answering the parameters it is given and ParameterNotFound for the rest.
 */
export class SsmStandIn {
  private server?: LoopbackServer;
  url = '';
  readonly requested: string[] = [];
  /** The Authorization header of each request: SigV4, as SSM requires. */
  readonly authorizations: string[] = [];

  constructor(private readonly parameters: Record<string, string>) {}

  async start(): Promise<this> {
    this.server = await listenOnLoopback(async (request, response) => {
      const body = JSON.parse((await readBody(request)) || '{}') as { Name?: string };
      const target = String(request.headers['x-amz-target'] ?? '');
      const json = (status: number, payload: unknown): void => {
        response
          .writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
          .end(JSON.stringify(payload));
      };
      if (target !== 'AmazonSSM.GetParameter') return json(400, { __type: 'InvalidAction', message: target });
      this.requested.push(String(body.Name));
      this.authorizations.push(String(request.headers.authorization ?? ''));
      const value = body.Name ? this.parameters[body.Name] : undefined;
      if (value === undefined)
        return json(400, { __type: 'ParameterNotFound', message: `${body.Name} not found` });
      json(200, { Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 } });
    });
    this.url = this.server.url;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}
