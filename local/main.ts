// First: it must run before any module that loads the AWS SDK (local/sdk-notice.ts says why).
import { smtpSecretVariable } from '../functions/adapters/transport';
import './sdk-notice';
import { resolve } from 'node:path';
import { createLogger } from '../functions/adapters/powertools-log';
import { ConfigError } from '../functions/core/errors';
import {
  captchaSecretsFromEnv,
  localConfig,
  localContext,
  portFromEnv,
  readPostroomContext,
} from './config-file';
import { PortInUseError } from './emulators';
import { functionsFromEnv } from './functions-from-env';
import { startLocalStack } from './stack';
import { formLines, startOptions, withoutRateLimits } from './start-options';
import { StateDirInUseError } from './state';
import { webhookSecretsFromEnv } from './webhooks';

/** `npm start`: the whole of Postroom on this machine, on loopback, until Ctrl-C. */
async function main(): Promise<void> {
  const env = process.env;
  const options = startOptions(process.argv.slice(2), env);
  const raw = readPostroomContext(resolve(env.POSTROOM_CONFIG_FILE ?? 'cdk.json'));
  const configured = localConfig(raw, env);
  const config = options.rateLimits ? configured : withoutRateLimits(configured);
  const ports = {
    api: portFromEnv(env, 'POSTROOM_API_PORT', 3000),
    ses: portFromEnv(env, 'POSTROOM_SES_PORT', 8005),
    sqs: portFromEnv(env, 'POSTROOM_SQS_PORT', 9324),
    dynamodb: portFromEnv(env, 'POSTROOM_DYNAMODB_PORT', 8000),
  };
  const { log } = createLogger('postroom-local');
  const captchaSecrets = captchaSecretsFromEnv(config, env);
  const webhookSecrets = webhookSecretsFromEnv(config, env);
  const stack = await startLocalStack({
    config,
    ports,
    smtpPassword: env.POSTROOM_SMTP_PASSWORD,
    smtpPasswords: Object.fromEntries(
      config.transports.map((t) => [t.id, env[smtpSecretVariable('POSTROOM_SMTP_PASSWORD', t.id)]]),
    ),
    log,
    captchaSecrets,
    webhookSecrets,
    apiKey: env.POSTROOM_API_KEY,
    akismetKey: env.POSTROOM_AKISMET_KEY,
    functions: await functionsFromEnv(localContext(raw, env), env, log),
    stateDir: options.stateDir,
    fresh: options.fresh,
  });

  const transport =
    config.transport.kind === 'smtp'
      ? `SMTP relay ${config.transport.host}:${config.transport.port}`
      : 'SES emulator';
  process.stdout.write(
    [
      '',
      'Postroom is running locally.',
      `  Demo contact form  ${stack.apiUrl}/`,
      `  Form endpoint      POST ${stack.apiUrl}/v1/forms/{formId}  (forms: ${config.forms.map((f) => f.id).join(', ')})`,
      `  Send API           POST ${stack.apiUrl}/v1/send  (${env.POSTROOM_API_KEY ? 'accepts POSTROOM_API_KEY' : 'create a key: npm run postroom -- keys create'})`,
      `  API reference      ${stack.apiUrl}/reference   (OpenAPI: ${stack.apiUrl}/v1/openapi.json)`,
      `  Health             ${stack.apiUrl}/health`,
      `  SES inbox          ${stack.sesUrl}/   (sent mail as JSON: ${stack.sesUrl}/store)`,
      `  Mail goes through  ${transport}`,
      `  SQS emulator       ${stack.endpoints.sqs}   DynamoDB emulator  ${stack.endpoints.dynamodb}`,
      `  State kept in      ${stack.stateDir}${options.fresh ? '  (started fresh)' : ''}  (keys, suppression, message status; npm start -- --fresh forgets it)`,
      ...formLines(configured, stack.demo, options.rateLimits),
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping Postroom...\n`);
    stack
      .stop()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof StateDirInUseError || error instanceof PortInUseError)
    process.stderr.write(`${error.message}\n`);
  else if (error instanceof Error && 'code' in error && error.code === 'EADDRINUSE') {
    process.stderr.write(
      `A port is already in use (${error.message}). Set the POSTROOM_*_PORT variables to free ports.\n`,
    );
  } else
    process.stderr.write(
      `Postroom could not start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  process.exit(1);
});
