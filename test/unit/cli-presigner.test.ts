import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { presigner } from '../../cli/submissions';

describe('CLI: submissions export links', () => {
  it("presigns a GET of the archived file for 15 minutes with the operator's credentials", async () => {
    // Prepare
    const s3 = new S3Client({
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
    });

    // Act
    const link = await (await presigner(s3, 'postroom-attachments'))('archive/contact/inbox/sub 1/0');

    // Assess
    const url = new URL(link ?? '');
    expect(url.origin).toBe('https://postroom-attachments.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/archive/contact/inbox/sub%201/0');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIAIOSFODNN7EXAMPLE\/\d{8}\/eu-west-1\/s3\/aws4_request$/,
    );
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});
