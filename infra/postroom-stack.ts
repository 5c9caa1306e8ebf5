import { App, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type PostroomConfig, parseConfig } from '../functions/core/config';
import { Api } from './constructs/api';
import { Queueing } from './constructs/queueing';
import { Relay } from './constructs/relay';
import { Store } from './constructs/store';

export interface PostroomStackProps extends StackProps {
  /** The validated configuration. */
  readonly config: PostroomConfig;
  /** The `postroom` context as written, handed to the functions, which validate it with the same schema. */
  readonly rawConfig: unknown;
}

/** Postroom: API -> send function -> mail queue -> relay function -> SES or SMTP, with a DLQ and a record table. */
export class PostroomStack extends Stack {
  constructor(scope: Construct, id: string, props: PostroomStackProps) {
    super(scope, id, props);
    const { config, rawConfig } = props;

    const queueing = new Queueing(this, 'Queueing', {
      maxReceiveCount: config.queue.maxReceiveCount,
      relayTimeout: Duration.seconds(config.relay.timeoutSeconds),
    });
    const store = new Store(this, 'Store');
    new Relay(this, 'Relay', {
      config,
      rawConfig,
      mailQueue: queueing.mailQueue,
      deadLetterQueue: queueing.deadLetterQueue,
      table: store.table,
    });
    const api = new Api(this, 'Api', { rawConfig, mailQueue: queueing.mailQueue });

    new CfnOutput(this, 'ApiUrl', { value: api.restApi.url });
    const formOfKey = new Map<string, string>();
    for (const form of config.forms) {
      const key = `FormEndpoint${pascalCase(form.id)}`;
      const other = formOfKey.get(key);
      if (other !== undefined) {
        throw new Error(`forms "${other}" and "${form.id}" would share the stack output ${key}; rename one`);
      }
      formOfKey.set(key, form.id);
      new CfnOutput(this, key, {
        description: `POST endpoint of form "${form.id}"`,
        value: api.formEndpoint(form.id),
      });
    }
    new CfnOutput(this, 'QueueUrl', { value: queueing.mailQueue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: queueing.deadLetterQueue.queueUrl });
  }
}

/** Output keys are alphanumeric; form ids are lowercase with dashes: `contact-sales` -> `ContactSales`. */
function pascalCase(formId: string): string {
  return formId.replace(/(?:^|-+)(.?)/g, (_, next: string) => next.toUpperCase());
}

/**
 * Validates the raw `postroom` configuration and adds the Postroom stack to `app`. Throws the ConfigError
 * (naming each bad field) before any resource is built.
 */
export function buildApp(rawConfig: unknown, app: App = new App(), stackProps: StackProps = {}) {
  const config = parseConfig(rawConfig);
  const stack = new PostroomStack(app, 'Postroom', {
    description: 'Postroom: serverless email sending (forms and API, queued, relayed once)',
    ...stackProps,
    env: { region: config.region, ...stackProps.env },
    config,
    rawConfig,
  });
  return { app, stack, config };
}
