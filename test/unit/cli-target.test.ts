import { describe, expect, it } from 'vitest';
import { senderIdentities } from '../../cli/doctor-aws';
import { clientOptions } from '../../cli/keys';
import { resolveTarget, TargetError } from '../../cli/target';
import { parseConfig } from '../../functions/core/config/config';
import { readPostroomContext } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

describe('CLI: which key table it talks to', () => {
  it('uses the local stack by default, on the port POSTROOM_DYNAMODB_PORT names', () => {
    expect(clientOptions({}, { POSTROOM_DYNAMODB_PORT: '8123' })).toEqual({
      region: 'us-east-1',
      endpoints: { dynamodb: 'http://127.0.0.1:8123' },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  it('uses a deployed table with the SDK credential chain when --table comes without --endpoint', () => {
    const options = clientOptions({ table: 'Postroom-StoreTable123' }, { AWS_REGION: 'eu-west-1' });
    expect(options).toEqual({ region: 'eu-west-1' });
  });

  it('keeps an explicit endpoint with a table local', () => {
    const options = clientOptions({ table: 'postroom', endpoint: 'http://127.0.0.1:9000' }, {});
    expect(options.endpoints).toEqual({ dynamodb: 'http://127.0.0.1:9000' });
  });
});

describe('CLI: the target of status, dlq, send-test and doctor', () => {
  it('is the local stack without --stack, on the ports the environment names, without a network call', async () => {
    // Act
    const target = await resolveTarget({}, { POSTROOM_API_PORT: '3100', POSTROOM_DYNAMODB_PORT: '8100' }, [
      'apiUrl',
      'tableName',
    ]);

    // Assess
    expect(target).toMatchObject({
      kind: 'local',
      label: 'the local stack',
      apiUrl: 'http://127.0.0.1:3100',
      tableName: 'postroom',
      aws: { endpoints: { dynamodb: 'http://127.0.0.1:8100' } },
    });
    expect(target.queueUrl).toBeUndefined();
  });

  it('exits through a TargetError naming the endpoint when the local queues cannot be reached', async () => {
    // Act
    const failure = resolveTarget({ 'sqs-endpoint': 'http://127.0.0.1:9' }, {}, ['queueUrl']);

    // Assess
    await expect(failure).rejects.toThrow(TargetError);
    await expect(failure).rejects.toThrow(
      /Could not reach the queues \(SQS\) at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)\. Is the local stack running \(npm start\)\? .*POSTROOM_SQS_PORT .*--sqs-endpoint URL/,
    );
  });
});

describe('CLI: the SES identities doctor looks for', () => {
  it('checks the configured domain identity first, then the sender domain, then the address', () => {
    // Prepare
    const config = parseConfig({
      ...(readPostroomContext(FIXTURE_CONFIG_FILE) as object),
      sender: 'Postroom <no-reply@mail.example.com>',
      transport: { kind: 'ses', domainIdentity: 'example.com' },
    });

    // Act
    const identities = senderIdentities(config);

    // Assess
    expect(identities).toEqual(['example.com', 'mail.example.com', 'no-reply@mail.example.com']);
  });
});
