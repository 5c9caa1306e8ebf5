import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError } from '../functions/core/errors';
import { buildApp } from './postroom-stack';

// `cdk synth` / `cdk deploy` entry point (cdk.json "app"). The configuration is the `postroom` context:
// an object from cdk.json, or a JSON string when overridden with `cdk -c postroom='{...}'`.
const app = new App();
// cdk-nag's AwsSolutions rules run on every synth, so `cdk deploy` stops on a new finding just as the test
// suite does: an error fails synthesis; acknowledged findings (with their reasons) sit beside the resources.
// cdk-nag 3 is a policy validation plugin, not an aspect.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

try {
  buildApp(contextConfig(app.node.tryGetContext('postroom')), app, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT },
  });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // The message names each bad field; a stack trace would only bury it.
  console.error(error.message);
  process.exit(1);
}

function contextConfig(value: unknown): unknown {
  if (value === undefined) {
    throw new ConfigError([{ field: 'postroom', message: 'is missing from the cdk.json context' }]);
  }
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ConfigError([{ field: 'postroom', message: 'is not valid JSON (from cdk -c postroom=...)' }]);
  }
}
