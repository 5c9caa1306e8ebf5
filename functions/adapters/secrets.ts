import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Reads a plain-string secret (the SMTP password) once, at cold start. Its value is never logged. */
export async function readSecretString(region: string, secretId: string): Promise<string> {
  const client = new SecretsManagerClient({ region });
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (result.SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
    return result.SecretString;
  } finally {
    client.destroy();
  }
}
