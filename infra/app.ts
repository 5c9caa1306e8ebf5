import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { type PostroomConfig, parseConfig } from '../functions/core/config/config';
import { findPlaceholders } from '../functions/core/config/placeholders';
import { ConfigError } from '../functions/core/errors';
// The same reader as npm start and doctor: one file format for every use (docs/configuration.md).
import { readPostroomContext } from '../local/config-file';
import { buildApp } from './postroom-stack';
import { placeholderReport, synthSummary } from './synth-summary';

// `cdk synth` / `cdk deploy` entry point (cdk.json "app"). The configuration is the `postroom` context:
// an object from cdk.json, or a JSON string when overridden with `cdk -c postroom='{...}'`.
const app = new App();
// cdk-nag's AwsSolutions rules run on every synth, so `cdk deploy` stops on a new finding just as the test
// suite does: an error fails synthesis; acknowledged findings (with their reasons) sit beside the resources.
// cdk-nag 3 is a policy validation plugin, not an aspect.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

// One file per environment drives npm start, postroom doctor and cdk: POSTROOM_CONFIG_FILE=FILE (or
// -c postroom:configFile=FILE) replaces the `postroom` context of cdk.json.
const configFile: unknown = app.node.tryGetContext('postroom:configFile') ?? process.env.POSTROOM_CONFIG_FILE;
let raw: unknown;
let config: PostroomConfig;
try {
  raw =
    typeof configFile === 'string' && configFile !== ''
      ? readPostroomContext(configFile)
      : contextConfig(app.node.tryGetContext('postroom'));
  config = parseConfig(raw);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // The message names each bad field; a stack trace would only bury it.
  console.error(error.message);
  process.exit(1);
}

// The shipped cdk.json holds example.com addresses and localhost origins so that `npm start` works at
// once; deployed, they would mail nobody and refuse every real browser. `npm start` does not come here.
// Checked before the stack is built, which bundles the functions.
const placeholders = findPlaceholders(config);
const allowPlaceholders = [true, 'true'].includes(app.node.tryGetContext('postroom:allowPlaceholders'));
if (placeholders.length > 0) {
  console.error(placeholderReport(placeholders, allowPlaceholders));
  if (!allowPlaceholders) process.exit(1);
}

const built = buildApp(raw, app, { env: { account: process.env.CDK_DEFAULT_ACCOUNT } });

// Synthesize here rather than when the process exits, so the summary can say how the checks went.
let nagPassed = false;
try {
  app.synth();
  nagPassed = process.exitCode === undefined || process.exitCode === 0;
} finally {
  console.error(
    synthSummary({
      stackName: built.stack.stackName,
      config: built.config,
      configSource:
        typeof configFile === 'string' && configFile !== '' ? configFile : 'cdk.json (context.postroom)',
      account: process.env.CDK_DEFAULT_ACCOUNT,
      placeholders,
      nag: { passed: nagPassed, acknowledged: acknowledgedFindings(app) },
    }),
  );
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

/** cdk-nag findings acknowledged in the code (Validations.acknowledge), each recorded with its reason. */
function acknowledgedFindings(root: App): number {
  const ids = root.node
    .findAll()
    .flatMap((construct) => construct.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) => Object.keys(entry.data as Record<string, string>));
  return ids.filter((id) => id.includes('AwsSolutions')).length;
}
