import { describe, expect, it } from 'vitest';
import { daemonAddress, failureKind, sampledContext } from '../../functions/adapters/xray-tracer';

describe('Adapter: X-Ray trace header and daemon address', () => {
  it('reads the root and parent of a sampled Lambda trace header, whatever the field order', () => {
    expect(
      sampledContext(
        'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=x:0',
      ),
    ).toEqual({ traceId: '1-5759e988-bd862e3fe1be46a994272793', parentId: '53995c3f42cd8ad8' });
    expect(sampledContext('Sampled=1;Parent=53995c3f42cd8ad8;Root=1-a-b')).toEqual({
      traceId: '1-a-b',
      parentId: '53995c3f42cd8ad8',
    });
  });

  it.each([
    ['unsampled', 'Root=1-a-b;Parent=53995c3f42cd8ad8;Sampled=0'],
    ['undecided', 'Root=1-a-b;Parent=53995c3f42cd8ad8;Sampled=?'],
    ['parentless', 'Root=1-a-b;Sampled=1'],
    ['rootless', 'Parent=53995c3f42cd8ad8;Sampled=1'],
    ['empty', ''],
    ['garbage', ';;=;Sampled'],
  ])('traces nothing for an %s header', (_, header) => {
    expect(sampledContext(header)).toBeUndefined();
  });

  it.each([
    [undefined, { host: '127.0.0.1', port: 2000 }],
    ['169.254.79.129:2000', { host: '169.254.79.129', port: 2000 }],
    ['tcp:127.0.0.1:2000 udp:127.0.0.2:2001', { host: '127.0.0.2', port: 2001 }],
    ['localhost:0', { host: '127.0.0.1', port: 2000 }],
    ['no port', { host: '127.0.0.1', port: 2000 }],
  ])('reads AWS_XRAY_DAEMON_ADDRESS %s', (value, expected) => {
    expect(daemonAddress(value)).toEqual(expected);
  });

  it.each([
    [429, 'throttle'],
    [400, 'error'],
    [404, 'error'],
    [500, 'fault'],
    [503, 'fault'],
    [undefined, 'fault'],
  ] as const)('classifies a failed call with status %s as %s', (status, kind) => {
    expect(failureKind(status)).toBe(kind);
  });
});
