import { describe, expect, it } from 'vitest';
import { clientOptions } from '../../local/cli';

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
