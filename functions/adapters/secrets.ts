/**
 * Reads a plain-string secret (the SMTP password, a captcha secret key) once, at cold start. Its value is
 * never logged. The client is loaded here, so a function configured without secrets never loads it.
 */
export async function readSecretString(region: string, secretId: string): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ region });
  try {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (result.SecretString === undefined) throw new Error(`secret ${secretId} has no string value`);
    return result.SecretString;
  } finally {
    client.destroy();
  }
}
