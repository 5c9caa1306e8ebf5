import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_HOST } from './emulators';

/**
 * The one Secrets Manager call the bundled functions make, GetSecretValue, answered from the local secrets
 * (POSTROOM_*_SECRET_<ID> variables, never a file): the bundle's own SDK client reaches it through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER and runs unchanged. AWS JSON 1.1 protocol, as the SDK speaks it:
 * `X-Amz-Target: secretsmanager.GetSecretValue`, `{"SecretId"}` in, `{"Name", "SecretString"}` out; an unknown
 * id is answered as Secrets Manager does, 400 ResourceNotFoundException.
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html
 * On 127.0.0.1 only, on a port of its own.
 */
export async function startSecretsEndpoint(
  secrets: ReadonlyMap<string, string>,
): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(body));
      };
      if (request.headers['x-amz-target'] !== 'secretsmanager.GetSecretValue') {
        answer(400, { __type: 'InvalidRequestException', message: 'only GetSecretValue is served locally' });
        return;
      }
      let secretId: unknown;
      try {
        secretId = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { SecretId?: unknown }).SecretId;
      } catch {
        secretId = undefined;
      }
      const value = typeof secretId === 'string' ? secrets.get(secretId) : undefined;
      if (typeof secretId !== 'string' || value === undefined) {
        answer(400, {
          __type: 'ResourceNotFoundException',
          message: 'Secrets Manager can’t find the specified secret.',
        });
        return;
      }
      answer(200, {
        ARN: `arn:aws:secretsmanager:local:000000000000:secret:${secretId}`,
        Name: secretId,
        SecretString: value,
        VersionId: 'local',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 0,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
  return {
    url: `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
