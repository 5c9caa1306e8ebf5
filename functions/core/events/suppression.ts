import type { FieldError } from '../errors';

/**
 * Addresses Postroom no longer sends to: those that bounced permanently and those whose owner complained.
 * Sending to them again hurts the account's reputation, and SES reviews (and may pause) accounts whose
 * bounce rate passes 5% or complaint rate 0.1%.
 * https://docs.aws.amazon.com/ses/latest/dg/send-email-concepts-deliverability.html
 * Addresses are compared lowercased: the local part is case-sensitive in theory (RFC 5321 2.4), in practice
 * no provider treats it so, and a bounce for `Jane@` must also stop `jane@`.
 */
export type SuppressionReason = 'bounce' | 'complaint';

export interface SuppressionEntry {
  readonly address: string;
  readonly reason: SuppressionReason;
  /** ISO 8601: when the bounce or complaint happened. */
  readonly at: string;
  /** The message whose event suppressed the address. */
  readonly messageId?: string;
}

export interface SuppressionList {
  add(entry: SuppressionEntry): Promise<void>;
  /** Whether the address is suppressed, compared lowercased. */
  has(address: string): Promise<boolean>;
}

export function suppressionKey(address: string): string {
  return address.trim().toLowerCase();
}

/** The recipient fields of a send request, as the API names them. */
export interface Recipients {
  readonly to: ReadonlyArray<string>;
  readonly cc?: ReadonlyArray<string> | undefined;
  readonly bcc?: ReadonlyArray<string> | undefined;
}

/**
 * One field error per suppressed recipient, named as the caller named the field (`to`, `cc`, `bcc`). The
 * caller sent the address, so the detail shows it in full. Each distinct address is looked up once.
 */
export async function suppressedRecipients(
  recipients: Recipients,
  list: SuppressionList,
): Promise<FieldError[]> {
  const fields = [
    ['to', recipients.to],
    ['cc', recipients.cc ?? []],
    ['bcc', recipients.bcc ?? []],
  ] as const;
  const distinct = [...new Set(fields.flatMap(([, addresses]) => addresses.map(suppressionKey)))];
  const suppressed = new Set(
    (await Promise.all(distinct.map(async (key) => ((await list.has(key)) ? key : undefined)))).filter(
      (key): key is string => key !== undefined,
    ),
  );
  return fields.flatMap(([field, addresses]) =>
    addresses
      .filter((address) => suppressed.has(suppressionKey(address)))
      .map((address) => ({
        field,
        detail: `${address} is on the suppression list (it bounced permanently or complained)`,
      })),
  );
}
