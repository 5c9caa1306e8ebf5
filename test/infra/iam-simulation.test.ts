import { Tracing } from 'aws-cdk-lib/aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AwsCall,
  type AwsResource,
  FUNCTION_CALLS,
  type FunctionName,
} from '../../functions/adapters/aws-calls';
import { type PostroomConfig, parseConfig } from '../../functions/core/config/config';
import { KEY_PREFIX } from '../../functions/core/table-keys';
import { tracingOf } from '../../infra/constructs/mail-function';
import {
  type Decision,
  type DeployedFunction,
  queueArnOf,
  type SimulatedRequest,
  StackPolicies,
} from '../support/stack-policies';
import { defaultConfig, fullConfig, SYNTH_TIMEOUT_MS, smtpConfig, synthesize } from './stack-fixture';

/**
 * The stack's permissions, proven by evaluation rather than by reading the policy JSON: each function's
 * every AWS call (functions/adapters/aws-calls.ts) is simulated with @cloud-copilot/iam-simulate against the
 * synthesized policies, resolved to concrete ARNs, and must be Allowed; what a function must never do must
 * be Denied; and the services that publish to the stack's encrypted topics must be able to, over TLS only.
 */

const SHARED_SET = 'shared-events';
const ARCHIVE_KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** Every configuration shape docs/deploy.md offers that changes a policy. */
const SHAPES: ReadonlyArray<{ name: string; raw: Record<string, unknown> }> = [
  { name: 'SES, owned configuration set', raw: defaultConfig },
  {
    name: 'SES, shared configuration set',
    raw: { ...defaultConfig, transport: { kind: 'ses', configurationSet: SHARED_SET } },
  },
  { name: 'SES, domain identity, captcha secret, uploads, WAF', raw: fullConfig },
  { name: 'SMTP with a password secret (by name)', raw: smtpConfig },
  {
    name: 'SMTP with a password secret (by ARN), captcha secrets by ARN and name',
    raw: {
      ...smtpConfig,
      transport: {
        ...smtpConfig.transport,
        passwordSecret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:postroom/smtp-Ab12Cd',
      },
      forms: [
        {
          id: 'contact',
          recipients: ['owner@example.com'],
          subject: 'New message',
          captcha: {
            provider: 'hcaptcha',
            secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:hc',
          },
        },
        {
          id: 'sales',
          recipients: ['sales@example.com'],
          subject: 'New lead',
          captcha: { provider: 'turnstile', secret: 'postroom/turnstile' },
        },
      ],
    },
  },
  {
    name: 'SES with the submission archive (customer-managed key, files kept) and Akismet',
    raw: {
      ...defaultConfig,
      archive: { kmsKeyArn: ARCHIVE_KEY_ARN },
      akismet: { secret: 'postroom/akismet' },
      forms: [
        {
          id: 'contact',
          recipients: ['owner@example.com'],
          subject: 'New message',
          files: { allowedTypes: ['application/pdf'] },
          archive: { retentionDays: 90, spamRetentionDays: 14, storeFiles: true },
          akismet: { blog: 'https://www.example.com' },
        },
      ],
    },
  },
  {
    name: 'SES with webhooks (secrets by name and by ARN)',
    raw: {
      ...defaultConfig,
      webhooks: [
        {
          id: 'crm',
          url: 'https://crm.example.com/hooks',
          events: ['submission.received', 'email.bounced'],
          secret: 'postroom/webhooks/crm',
        },
        {
          id: 'chat',
          url: 'https://chat.example.com/hooks',
          events: ['email.failed'],
          secret: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-Ab12Cd',
        },
      ],
    },
  },
];

/**
 * Actions granted that no listed call makes, each for a reason: CDK's Secret.grantRead adds DescribeSecret
 * (metadata only, never the value) and Queue.grantConsumeMessages adds GetQueueUrl (the queue's own URL);
 * the relay's SES grant pairs SendRawEmail with SendEmail, on the same identities and set, as CDK's
 * EmailIdentity.grantSendEmail does.
 */
const GRANTED_UNCALLED = ['secretsmanager:DescribeSecret', 'ses:SendRawEmail', 'sqs:GetQueueUrl'];

const DESCRIPTIONS: Record<FunctionName, string> = {
  send: 'Postroom send',
  relay: 'Postroom relay',
  events: 'Postroom events',
  webhooks: 'Postroom webhooks',
};

type Context = Record<string, string | string[]>;
/** A request to decide, by a function's role (`fn`) or by a service principal, and how to report it. */
interface Probe {
  readonly label: string;
  readonly fn?: DeployedFunction;
  readonly request: SimulatedRequest;
}

/** Allowed and denied decisions checked, per shape, for the report at the end. */
const tally = new Map<string, { allowed: number; denied: number }>();

afterAll(() => {
  const lines = [...tally].map(
    ([shape, { allowed, denied }]) => `  ${shape}: ${allowed} allowed, ${denied} denied`,
  );
  console.info(`IAM simulation, requests decided as expected:\n${lines.join('\n')}`);
});

describe.each(SHAPES)('IAM simulation: $name', { timeout: SYNTH_TIMEOUT_MS }, ({ name, raw }) => {
  let config: PostroomConfig;
  let policies: StackPolicies;
  const functions = new Map<FunctionName, DeployedFunction>();
  const count = { allowed: 0, denied: 0 };
  tally.set(name, count);

  beforeAll(() => {
    config = parseConfig(raw);
    policies = new StackPolicies(synthesize(raw).template, config.region);
    if (config.archive?.kmsKeyArn) policies.assumeDefaultKeyPolicy(config.archive?.kmsKeyArn);
    for (const fn of Object.keys(DESCRIPTIONS) as FunctionName[]) {
      if (fn === 'events' && config.transport.kind !== 'ses') continue;
      if (fn === 'webhooks' && config.webhooks.length === 0) continue;
      functions.set(fn, policies.deployedFunction(DESCRIPTIONS[fn]));
    }
  }, SYNTH_TIMEOUT_MS);

  /** Decides each request and returns the ones whose decision is not `expected`, described. */
  async function unexpected(
    expected: 'Allowed' | 'Denied',
    requests: ReadonlyArray<Probe>,
  ): Promise<string[]> {
    const wrong: string[] = [];
    for (const { label, fn, request } of requests) {
      const decision: Decision = await policies.decide(request, fn);
      const ok = expected === 'Allowed' ? decision === 'Allowed' : decision !== 'Allowed';
      if (ok) count[expected === 'Allowed' ? 'allowed' : 'denied'] += 1;
      else wrong.push(`${label}: ${decision}`);
    }
    // Zero requests would prove nothing.
    expect(requests.length).toBeGreaterThan(0);
    return wrong;
  }

  const r = () => policies.resolver;
  const table = () => r().getAtt(r().only('AWS::DynamoDB::Table', 'Store'), 'Arn');
  const hasArchive = () => config.forms.some((form) => form.archive !== undefined);
  const archiveTable = () =>
    hasArchive() ? [r().getAtt(r().only('AWS::DynamoDB::Table', 'Archive'), 'Arn')] : [];
  const archiveHashKey = () =>
    hasArchive() ? [r().ref(r().only('AWS::SecretsManager::Secret', 'Archive'))] : [];
  const bucket = () => r().getAtt(r().only('AWS::S3::Bucket', 'Attachments'), 'Arn');
  const mailQueue = () => queueArnOf(functionOf('send').environment.MAIL_QUEUE_URL as string);
  const deadLetterQueue = () => queueArnOf(functionOf('relay').environment.DEAD_LETTER_QUEUE_URL as string);
  const webhookQueue = () =>
    config.webhooks.length === 0
      ? []
      : [queueArnOf(functionOf('webhooks').environment.WEBHOOK_QUEUE_URL as string)];
  const webhookDeadLetterQueue = () =>
    config.webhooks.length === 0
      ? []
      : [queueArnOf(functionOf('webhooks').environment.WEBHOOK_DEAD_LETTER_QUEUE_URL as string)];
  const functionOf = (fn: FunctionName) => {
    const deployed = functions.get(fn);
    if (deployed === undefined) throw new Error(`no ${fn} function in this shape`);
    return deployed;
  };

  /** A Secrets Manager secret's full ARN as AWS authorizes reads of it: a name gets its random suffix. */
  const secretArn = (nameOrArn: string) =>
    nameOrArn.startsWith('arn:')
      ? /-[A-Za-z0-9]{6}$/.test(nameOrArn)
        ? nameOrArn
        : `${nameOrArn}-Zx9Yw8`
      : r().arn('secretsmanager', `secret:${nameOrArn}-Zx9Yw8`);

  /** The SES identities SES may authorize a send from the sender against (the address, its domain, parents). */
  const senderIdentities = () => {
    const address = config.sender.address;
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const domainIdentity = config.transport.kind === 'ses' ? config.transport.domainIdentity : undefined;
    return [address, domain, ...(domainIdentity ? [domainIdentity] : [])].map((id) =>
      r().arn('ses', `identity/${id}`),
    );
  };
  const configurationSetArn = () =>
    r().arn('ses', `configuration-set/${functionOf('relay').environment.SES_CONFIGURATION_SET}`);

  /** The concrete ARNs a listed call touches in this stack. */
  function resourcesOf(resource: AwsResource, fn: DeployedFunction): string[] {
    switch (resource) {
      case 'recordTable':
        return [table()];
      case 'mailQueue':
        return [mailQueue()];
      case 'deadLetterQueue':
        return [deadLetterQueue()];
      case 'attachmentObject':
        return [`${bucket()}/attachments/5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a/0`];
      case 'attachmentsBucket':
        return [bucket()];
      case 'sesSenderIdentity':
        return senderIdentities();
      case 'sesConfigurationSet':
        return fn.environment.SES_CONFIGURATION_SET === undefined ? [] : [configurationSetArn()];
      case 'smtpPasswordSecret':
        // Each SMTP relay's own secret, the failover list's too.
        return config.transports.flatMap((t) =>
          t.kind === 'smtp' && t.passwordSecret ? [secretArn(t.passwordSecret)] : [],
        );
      case 'captchaSecret':
        return config.forms.flatMap((form) => (form.captcha ? [secretArn(form.captcha.secret)] : []));
      case 'webhookQueue':
        return webhookQueue();
      case 'webhookDeadLetterQueue':
        return webhookDeadLetterQueue();
      case 'webhookSecret':
        return config.webhooks.map((endpoint) => secretArn(endpoint.secret));
      case 'ownLogGroup':
        return [
          r().arn('logs', `log-group:${fn.logGroupName}:log-stream:2026/12/03/[$LATEST]0123456789abcdef`),
        ];
      case 'scheduleInGroup':
        return [
          r().arn(
            'scheduler',
            `schedule/${functionOf('send').environment.SCHEDULE_GROUP}/5d3c2b1a-1777631400`,
          ),
        ];
      case 'schedulerRole':
        return [functionOf('send').environment.SCHEDULER_ROLE_ARN as string];
      case 'archiveTable':
        return archiveTable();
      case 'archiveObject':
        return hasArchive()
          ? [`${bucket()}/archive/contact/inbox/5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a/0`]
          : [];
      case 'archiveHashKeySecret':
        return archiveHashKey();
      case 'akismetSecret':
        return config.akismet ? [secretArn(config.akismet.secret)] : [];
      case 'archiveKey':
        return config.archive?.kmsKeyArn ? [config.archive?.kmsKeyArn] : [];
      case 'anyResource':
        return ['*'];
    }
  }

  const applies = (fnName: FunctionName) => (call: AwsCall) =>
    call.when === undefined ||
    (call.when === 'traced' && tracingOf(fnName, config.monitoring) !== Tracing.DISABLED) ||
    (call.when === 'sesTransport' && config.transports.some((t) => t.kind === 'ses')) ||
    (call.when === 'smtpPassword' &&
      config.transports.some((t) => t.kind === 'smtp' && t.passwordSecret !== undefined)) ||
    (call.when === 'failover' && config.transports.length > 1) ||
    (call.when === 'captcha' && config.forms.some((form) => form.captcha !== undefined)) ||
    (call.when === 'webhooks' && config.webhooks.length > 0) ||
    (call.when === 'archive' && hasArchive()) ||
    (call.when === 'akismet' && config.akismet !== undefined) ||
    (call.when === 'archiveKey' && hasArchive() && config.archive?.kmsKeyArn !== undefined);

  /** One request per resource and per key prefix of a listed call. */
  function requestsFor(fnName: FunctionName, calls: ReadonlyArray<AwsCall>) {
    const fn = functionOf(fnName);
    return calls.flatMap((call) =>
      resourcesOf(call.resource, fn).flatMap((resource) =>
        (call.keyPrefixes ?? [undefined]).map((prefix) => ({
          label: `${fnName} ${call.site} ${call.action} ${resource}${prefix === undefined ? '' : ` ${prefix}…`}`,
          fn,
          request: {
            principal: fn.roleArn,
            action: call.action,
            resource,
            context: {
              ...(prefix === undefined ? {} : { 'dynamodb:LeadingKeys': [`${prefix}5d3c2b1a`] }),
              ...call.context,
            },
          },
        })),
      ),
    );
  }

  /** A request by `fnName`'s role, with `context` (the leading keys of the items, the transport's TLS...). */
  const by = (fnName: FunctionName, action: string, resource: string, context: Context = {}): Probe => {
    const fn = functionOf(fnName);
    const keys = context['dynamodb:LeadingKeys'];
    return {
      label: `${fnName} ${action} ${resource}${keys === undefined ? '' : ` ${[keys].flat().join(',')}`}`,
      fn,
      request: { principal: fn.roleArn, action, resource, context },
    };
  };
  const item = (prefix: string): Context => ({ 'dynamodb:LeadingKeys': [`${prefix}5d3c2b1a`] });
  const plainHttp: Context = { 'aws:SecureTransport': 'false' };
  const items = (fnName: FunctionName, actions: string[], prefixes: string[]) =>
    actions.flatMap((action) => prefixes.map((prefix) => by(fnName, action, table(), item(prefix))));

  const isSes = (raw.transport as { kind?: string } | undefined)?.kind !== 'smtp';
  const hasWebhooks = Array.isArray(raw.webhooks) && raw.webhooks.length > 0;
  const deployed: FunctionName[] = [
    ...(isSes ? (['send', 'relay', 'events'] as const) : (['send', 'relay'] as const)),
    ...(hasWebhooks ? (['webhooks'] as const) : []),
  ];

  if (!isSes) {
    it('has no events function: an SMTP relay publishes no delivery events', () => {
      // Assess
      expect(() => policies.deployedFunction(DESCRIPTIONS.events)).toThrow(/expected one function/);
    });
  }

  describe('allows every call each function makes', () => {
    it.each(deployed)('%s', async (fnName) => {
      // Act
      const wrong = await unexpected(
        'Allowed',
        requestsFor(fnName, FUNCTION_CALLS[fnName].filter(applies(fnName))),
      );

      // Assess
      expect(wrong).toEqual([]);
    });
  });

  it('denies each function the calls its configuration does not make', async () => {
    // Prepare: an SMTP relay may not send through SES; without a captcha the send function reads no secret.
    const notMade = (['send', 'relay', 'events'] as const)
      .filter((fn) => functions.has(fn))
      .flatMap((fn) =>
        requestsFor(
          fn,
          FUNCTION_CALLS[fn].filter((call) => !applies(fn)(call)),
        ),
      );
    const secretsNotConfigured = [
      ...(config.forms.some((form) => form.captcha)
        ? []
        : [by('send', 'secretsmanager:GetSecretValue', secretArn('postroom/turnstile'))]),
      ...(config.transports.some((t) => t.kind === 'smtp' && t.passwordSecret)
        ? []
        : [by('relay', 'secretsmanager:GetSecretValue', secretArn('postroom/smtp-password'))]),
      // Another relay's SMTP secret, named like the configured one.
      by('relay', 'secretsmanager:GetSecretValue', secretArn('postroom/someone-elses-smtp')),
    ];

    // Act
    const wrong = await unexpected('Denied', [...notMade, ...secretsNotConfigured]);

    // Assess
    expect(wrong).toEqual([]);
  });

  it('denies the send function the relay claims, receiving from the queue and sending mail', async () => {
    // Act
    const wrong = await unexpected('Denied', [
      ...items(
        'send',
        ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
        [KEY_PREFIX.job],
      ),
      // API keys and the suppression list are read only to it.
      ...items(
        'send',
        ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        [KEY_PREFIX.apikey, KEY_PREFIX.supp],
      ),
      // A request naming one of its own items and one of the relay's is refused as a whole.
      by('send', 'dynamodb:BatchGetItem', table(), {
        'dynamodb:LeadingKeys': [`${KEY_PREFIX.msg}1`, `${KEY_PREFIX.job}1`],
      }),
      by('send', 'dynamodb:GetItem', table(), {
        'dynamodb:LeadingKeys': [`${KEY_PREFIX.msg}1`, `${KEY_PREFIX.job}1`],
      }),
      by('send', 'dynamodb:Scan', table()),
      by('send', 'dynamodb:Query', table(), item(KEY_PREFIX.msg)),
      by('send', 'sqs:ReceiveMessage', mailQueue()),
      by('send', 'sqs:DeleteMessage', mailQueue()),
      by('send', 'sqs:ChangeMessageVisibility', mailQueue()),
      by('send', 'sqs:SendMessage', deadLetterQueue()),
      ...senderIdentities().map((identity) => by('send', 'ses:SendEmail', identity)),
      by('send', 's3:GetObject', `${bucket()}/attachments/x/0`),
      by('send', 's3:PutObject', `${bucket()}/elsewhere/x`),
      by('send', 'secretsmanager:GetSecretValue', secretArn('postroom/smtp-password')),
    ]);

    // Assess
    expect(wrong).toEqual([]);
  });

  it("lets the scheduler role put jobs on the mail queue and the mail's dead-letter queue, nothing else", async () => {
    // Prepare
    const role = policies.deployedRole('Postroom scheduler');
    const scheduleDlq = functionOf('send').environment.SCHEDULE_DLQ_ARN as string;
    const as = (action: string, resource: string): Probe => ({
      label: `scheduler ${action} ${resource}`,
      fn: role,
      request: { principal: role.roleArn, action, resource, context: {} },
    });

    // Act
    const allowed = await unexpected('Allowed', [
      as('sqs:SendMessage', mailQueue()),
      as('sqs:SendMessage', scheduleDlq),
      // The scheduler's dead-letter queue is the mail's own: one alarm, one redrive (infra/constructs/scheduling.ts).
      as('sqs:SendMessage', deadLetterQueue()),
    ]);
    const denied = await unexpected('Denied', [
      as('sqs:ReceiveMessage', mailQueue()),
      as('sqs:DeleteMessage', mailQueue()),
      as('sqs:PurgeQueue', mailQueue()),
      as('dynamodb:GetItem', table()),
      as('scheduler:CreateSchedule', r().arn('scheduler', 'schedule/default/x')),
      as('iam:PassRole', role.roleArn),
    ]);

    // Assess
    expect(scheduleDlq).toBe(deadLetterQueue());
    expect([...allowed, ...denied]).toEqual([]);
  });

  it('denies the send function schedules outside its group and passing its role to another service', async () => {
    // Act
    const role = functionOf('send').environment.SCHEDULER_ROLE_ARN as string;
    const wrong = await unexpected('Denied', [
      by('send', 'scheduler:CreateSchedule', r().arn('scheduler', 'schedule/default/x')),
      by(
        'send',
        'scheduler:UpdateSchedule',
        r().arn('scheduler', `schedule/${functionOf('send').environment.SCHEDULE_GROUP}/x`),
      ),
      by(
        'send',
        'scheduler:DeleteScheduleGroup',
        r().arn('scheduler', `schedule-group/${functionOf('send').environment.SCHEDULE_GROUP}`),
      ),
      by('send', 'iam:PassRole', role, { 'iam:PassedToService': 'lambda.amazonaws.com' }),
      by('send', 'iam:PassRole', functionOf('relay').roleArn, {
        'iam:PassedToService': 'scheduler.amazonaws.com',
      }),
    ]);

    // Assess
    expect(wrong).toEqual([]);
  });

  it('denies the relay API key hashes, the guards, and sending from another identity or set', async () => {
    // Act
    const wrong = await unexpected('Denied', [
      ...items(
        'relay',
        ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        [KEY_PREFIX.apikey, KEY_PREFIX.rate, KEY_PREFIX.idem, KEY_PREFIX.supp],
      ),
      ...items('relay', ['dynamodb:PutItem', 'dynamodb:DeleteItem'], [KEY_PREFIX.job, KEY_PREFIX.msg]),
      by('relay', 'dynamodb:Scan', table()),
      by('relay', 'sqs:SendMessage', mailQueue()),
      by('relay', 'sqs:ReceiveMessage', deadLetterQueue()),
      by('relay', 'ses:SendEmail', r().arn('ses', 'identity/evil.example')),
      by('relay', 'ses:SendEmail', r().arn('ses', 'identity/ceo@evil.example')),
      by('relay', 'ses:SendEmail', r().arn('ses', 'configuration-set/someone-elses-set')),
      by(
        'relay',
        'ses:SendEmail',
        `arn:aws:ses:us-east-1:${policies.account}:identity/${config.sender.address}`,
      ),
      by('relay', 's3:PutObject', `${bucket()}/attachments/x/0`),
      by('relay', 's3:DeleteObject', `${bucket()}/attachments/x/0`),
      ...config.forms.flatMap((form) =>
        form.captcha ? [by('relay', 'secretsmanager:GetSecretValue', secretArn(form.captcha.secret))] : [],
      ),
    ]);

    // Assess
    expect(wrong).toEqual([]);
  });

  if (isSes) {
    it('denies the events function anything but recording status and suppressing', async () => {
      // Act
      const wrong = await unexpected('Denied', [
        ...items('events', ['dynamodb:GetItem', 'dynamodb:DeleteItem'], [KEY_PREFIX.msg, KEY_PREFIX.supp]),
        ...items('events', ['dynamodb:UpdateItem', 'dynamodb:PutItem'], [KEY_PREFIX.job, KEY_PREFIX.apikey]),
        by('events', 'dynamodb:PutItem', table(), item(KEY_PREFIX.msg)),
        by('events', 'sqs:SendMessage', mailQueue()),
        ...senderIdentities().map((identity) => by('events', 'ses:SendEmail', identity)),
      ]);

      // Assess
      expect(wrong).toEqual([]);
    });
  }

  if (hasWebhooks) {
    it('denies the dispatcher mail, other items and other secrets; denies producers consuming webhooks', async () => {
      // Act
      const wrong = await unexpected('Denied', [
        ...items(
          'webhooks',
          ['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
          [KEY_PREFIX.msg, KEY_PREFIX.job, KEY_PREFIX.apikey, KEY_PREFIX.supp, KEY_PREFIX.rate],
        ),
        ...items(
          'webhooks',
          ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
          [KEY_PREFIX.whevt, KEY_PREFIX.whep],
        ),
        by('webhooks', 'dynamodb:Scan', table()),
        by('webhooks', 'sqs:SendMessage', mailQueue()),
        by('webhooks', 'sqs:ReceiveMessage', mailQueue()),
        by('webhooks', 'sqs:SendMessage', deadLetterQueue()),
        ...senderIdentities().map((identity) => by('webhooks', 'ses:SendEmail', identity)),
        by('webhooks', 'secretsmanager:GetSecretValue', secretArn('postroom/turnstile')),
        by('webhooks', 'secretsmanager:GetSecretValue', secretArn('postroom/webhooks/other')),
        ...(['send', 'relay', 'events'] as const).flatMap((fn) => [
          ...webhookQueue().flatMap((queue) => [
            by(fn, 'sqs:ReceiveMessage', queue),
            by(fn, 'sqs:DeleteMessage', queue),
            by(fn, 'sqs:SendMessage', queue, plainHttp),
          ]),
          ...webhookDeadLetterQueue().map((queue) => by(fn, 'sqs:SendMessage', queue)),
          ...items(fn, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [KEY_PREFIX.whevt, KEY_PREFIX.whep]),
          ...config.webhooks.map((endpoint) =>
            by(fn, 'secretsmanager:GetSecretValue', secretArn(endpoint.secret)),
          ),
        ]),
      ]);

      // Assess
      expect(wrong).toEqual([]);
    });
  }

  if (raw.archive !== undefined) {
    const archiveItem = (prefix: string): Context => ({ 'dynamodb:LeadingKeys': [`${prefix}contact#inbox`] });
    const object = (key: string) => `${bucket()}/${key}`;

    it('denies the send function reading the erasure index, changing or deleting submissions, and reading files', async () => {
      // Act
      const [archive] = archiveTable();
      const wrong = await unexpected('Denied', [
        by('send', 'dynamodb:Query', archive ?? '', archiveItem('subemail#')),
        by('send', 'dynamodb:GetItem', archive ?? '', archiveItem('subemail#')),
        by('send', 'dynamodb:Query', archive ?? '', archiveItem('erasure#')),
        by('send', 'dynamodb:PutItem', archive ?? '', archiveItem('erasure#')),
        ...['dynamodb:DeleteItem', 'dynamodb:UpdateItem'].flatMap((action) =>
          ['sub#', 'subid#', 'subemail#'].map((prefix) =>
            by('send', action, archive ?? '', archiveItem(prefix)),
          ),
        ),
        by('send', 'dynamodb:Scan', archive ?? ''),
        by('send', 's3:GetObject', object('archive/contact/inbox/5d3c2b1a/0')),
        by('send', 's3:DeleteObject', object('archive/contact/inbox/5d3c2b1a/0')),
        by('send', 'dynamodb:DeleteItem', table(), item(KEY_PREFIX.msg)),
      ]);

      // Assess
      expect(wrong).toEqual([]);
    });

    it('lets the operator policy read, release and erase, and nothing of the record table but messages and suppression', async () => {
      // Prepare
      const operator = policies.operatorWith('Postroom: read, export, release and erase');
      const as = (action: string, resource: string, context: Context = {}): Probe => ({
        label: `operator ${action} ${resource} ${JSON.stringify(context)}`,
        fn: operator,
        request: { principal: operator.roleArn, action, resource, context },
      });
      const [archive] = archiveTable();
      const [hashKey] = archiveHashKey();
      const file = object('archive/contact/spam/5d3c2b1a/0');

      // Act
      const allowed = await unexpected('Allowed', [
        ...[
          'dynamodb:Query',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:DeleteItem',
        ].map((action) => as(action, archive ?? '')),
        as('dynamodb:DeleteItem', table(), item(KEY_PREFIX.msg)),
        as('dynamodb:DeleteItem', table(), item(KEY_PREFIX.supp)),
        ...['s3:GetObject', 's3:PutObject', 's3:DeleteObject'].map((action) => as(action, file)),
        // A released notification's large files, where the relay fetches them.
        as('s3:PutObject', object('attachments/5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a/0')),
        as('sqs:SendMessage', mailQueue()),
        as('secretsmanager:GetSecretValue', hashKey ?? ''),
        as('kms:Decrypt', ARCHIVE_KEY_ARN),
        as('kms:GenerateDataKey', ARCHIVE_KEY_ARN),
      ]);
      const denied = await unexpected('Denied', [
        as('dynamodb:GetItem', table(), item(KEY_PREFIX.apikey)),
        as('dynamodb:DeleteItem', table(), item(KEY_PREFIX.job)),
        as('dynamodb:DeleteTable', archive ?? ''),
        as('s3:GetObject', object('attachments/5d3c2b1a/0')),
        as('s3:DeleteObject', object('attachments/5d3c2b1a/0')),
        as('s3:GetObject', file, plainHttp),
        as('sqs:ReceiveMessage', mailQueue()),
      ]);

      // Assess
      expect([...allowed, ...denied]).toEqual([]);
    });
  }

  it('grants each function no action that none of its calls needs', () => {
    // Prepare
    const surplus = deployed.flatMap((fnName) => {
      const needed = new Set([...FUNCTION_CALLS[fnName].map((call) => call.action), ...GRANTED_UNCALLED]);
      const granted = functionOf(fnName).identityPolicies.flatMap((policy) =>
        (policy.policy.Statement as Array<{ Effect: string; Action: string | string[] }>)
          .filter((statement) => statement.Effect === 'Allow')
          .flatMap((statement) => [statement.Action].flat()),
      );
      return [...new Set(granted)]
        .filter((action) => !needed.has(action))
        .map((action) => `${fnName} ${action}`);
    });

    // Assess
    expect(surplus).toEqual([]);
  });

  it('denies every function deleting a data store, scheduling key deletion or widening its own role', async () => {
    // Prepare
    const keys = r()
      .logicalIds('AWS::KMS::Key')
      .map((id) => r().getAtt(id, 'Arn'));
    const topics = r()
      .logicalIds('AWS::SNS::Topic')
      .map((id) => r().ref(id));
    const requests = [...functions.keys()].flatMap((fn) => [
      by(fn, 'dynamodb:DeleteTable', table()),
      by(fn, 'dynamodb:UpdateTable', table()),
      by(fn, 'dynamodb:DeleteItem', table(), item(KEY_PREFIX.msg)),
      by(fn, 's3:DeleteBucket', bucket()),
      by(fn, 's3:PutLifecycleConfiguration', bucket()),
      by(fn, 'sqs:DeleteQueue', mailQueue()),
      by(fn, 'sqs:DeleteQueue', deadLetterQueue()),
      by(fn, 'sqs:PurgeQueue', mailQueue()),
      by(fn, 'sqs:PurgeQueue', deadLetterQueue()),
      ...keys.flatMap((key) => [
        by(fn, 'kms:ScheduleKeyDeletion', key),
        by(fn, 'kms:DisableKey', key),
        by(fn, 'kms:PutKeyPolicy', key),
      ]),
      ...topics.flatMap((topic) => [
        by(fn, 'sns:DeleteTopic', topic),
        by(fn, 'sns:SetTopicAttributes', topic),
      ]),
      by(fn, 'logs:DeleteLogGroup', r().arn('logs', `log-group:${functionOf(fn).logGroupName}`)),
      by(fn, 'iam:PutRolePolicy', functionOf(fn).roleArn),
      by(fn, 'iam:AttachRolePolicy', functionOf(fn).roleArn),
    ]);

    // Act
    const wrong = await unexpected('Denied', requests);

    // Assess
    expect(wrong).toEqual([]);
  });

  describe('resource policies', () => {
    const alarmTopic = () => r().ref(r().only('AWS::SNS::Topic', 'MonitoringAlarmTopic'));
    const alarmKey = () => r().getAtt(r().only('AWS::KMS::Key', 'MonitoringAlarmTopicKey'), 'Arn');
    const eventsTopic = () => r().ref(r().only('AWS::SNS::Topic', 'DeliveryEventsTopic'));
    const eventsKey = () => r().getAtt(r().only('AWS::KMS::Key', 'DeliveryEventsTopicKey'), 'Arn');
    const service = (
      principal: string,
      action: string,
      resource: string,
      context: Record<string, string>,
      label = '',
    ) => ({
      label: `${principal} ${action} ${resource} ${label}`,
      request: { principal, action, resource, context },
    });
    const fromAlarm = (account: string) => ({
      'aws:SourceAccount': account,
      'aws:SourceArn': `arn:aws:cloudwatch:${config.region}:${account}:alarm:Postroom-DeadLetters`,
    });

    it('lets CloudWatch alarms publish to the alarm topic and, when encrypted, use its key', async () => {
      // Act
      const wrong = await unexpected('Allowed', [
        service('cloudwatch.amazonaws.com', 'sns:Publish', alarmTopic(), fromAlarm(policies.account)),
        ...(config.monitoring.encryptTopics
          ? [
              service(
                'cloudwatch.amazonaws.com',
                'kms:GenerateDataKey',
                alarmKey(),
                fromAlarm(policies.account),
              ),
              service('cloudwatch.amazonaws.com', 'kms:Decrypt', alarmKey(), fromAlarm(policies.account)),
            ]
          : []),
      ]);

      // Assess
      expect(wrong).toEqual([]);
    });

    it("refuses another account's alarms and any request over plain HTTP", async () => {
      // Act
      const wrong = await unexpected('Denied', [
        service('cloudwatch.amazonaws.com', 'sns:Publish', alarmTopic(), fromAlarm('999999999999')),
        ...(config.monitoring.encryptTopics
          ? [
              service(
                'cloudwatch.amazonaws.com',
                'kms:GenerateDataKey',
                alarmKey(),
                fromAlarm('999999999999'),
              ),
            ]
          : []),
        service('cloudwatch.amazonaws.com', 'sns:Publish', alarmTopic(), {
          ...fromAlarm(policies.account),
          'aws:SecureTransport': 'false',
        }),
        by('send', 'sqs:SendMessage', mailQueue(), plainHttp),
        by('send', 's3:PutObject', `${bucket()}/attachments/x/0`, plainHttp),
        by('relay', 'sqs:SendMessage', deadLetterQueue(), plainHttp),
      ]);

      // Assess
      expect(wrong).toEqual([]);
    });

    if (isSes) {
      it("lets SES publish the configuration set's events to the topic (and use its key when encrypted), which invokes the events function", async () => {
        // Prepare: the set the relay sends with, named in its environment as the template resolves it.
        const fromSet = {
          'aws:SourceAccount': policies.account,
          'aws:SourceArn': configurationSetArn(),
        };

        // Act
        const wrong = await unexpected('Allowed', [
          service('ses.amazonaws.com', 'sns:Publish', eventsTopic(), fromSet),
          ...(config.monitoring.encryptTopics
            ? [
                service('ses.amazonaws.com', 'kms:GenerateDataKey', eventsKey(), fromSet),
                service('ses.amazonaws.com', 'kms:Decrypt', eventsKey(), fromSet),
              ]
            : []),
          service('sns.amazonaws.com', 'lambda:InvokeFunction', functionOf('events').functionArn, {
            'aws:SourceArn': eventsTopic(),
            'aws:SourceAccount': policies.account,
          }),
        ]);

        // Assess
        expect(configurationSetArn()).toMatch(
          (raw.transport as { configurationSet?: string } | undefined)?.configurationSet === SHARED_SET
            ? /:configuration-set\/shared-events$/
            : /:configuration-set\/MailProviderConfigurationSet/,
        );
        expect(wrong).toEqual([]);
      });

      it("refuses another configuration set's or account's events, plain HTTP, and invocations from other topics", async () => {
        // Act
        const otherSet = r().arn('ses', 'configuration-set/someone-elses-set');
        const wrong = await unexpected('Denied', [
          service('ses.amazonaws.com', 'sns:Publish', eventsTopic(), {
            'aws:SourceAccount': policies.account,
            'aws:SourceArn': otherSet,
          }),
          service('ses.amazonaws.com', 'sns:Publish', eventsTopic(), {
            'aws:SourceAccount': '999999999999',
            'aws:SourceArn': `arn:aws:ses:${config.region}:999999999999:configuration-set/${SHARED_SET}`,
          }),
          ...(config.monitoring.encryptTopics
            ? [
                service('ses.amazonaws.com', 'kms:GenerateDataKey', eventsKey(), {
                  'aws:SourceAccount': '999999999999',
                  'aws:SourceArn': `arn:aws:ses:${config.region}:999999999999:configuration-set/${SHARED_SET}`,
                }),
              ]
            : []),
          service('ses.amazonaws.com', 'sns:Publish', eventsTopic(), {
            'aws:SourceAccount': policies.account,
            'aws:SourceArn': configurationSetArn(),
            'aws:SecureTransport': 'false',
          }),
          service('sns.amazonaws.com', 'lambda:InvokeFunction', functionOf('events').functionArn, {
            'aws:SourceArn': r().arn('sns', 'some-other-topic'),
            'aws:SourceAccount': policies.account,
          }),
          // Nobody else publishes fake delivery events: not the functions, not CloudWatch.
          ...[...functions.keys()].map((fn) => by(fn, 'sns:Publish', eventsTopic())),
          service('cloudwatch.amazonaws.com', 'sns:Publish', eventsTopic(), fromAlarm(policies.account)),
        ]);

        // Assess
        expect(wrong).toEqual([]);
      });
    }
  });
});
