/**
 * Which characters Postroom carries from a request to the delivered mail. Every Unicode scalar value
 * reaches the queue, since a job is serialized as plain ASCII (see serializeMailJob), so what is refused is
 * what no mail can carry, or what no sender needs:
 *
 * - lone surrogates (U+D800-U+DFFF not in a pair): not scalar values, so they have no UTF-8 form, and the
 *   mail is UTF-8. Replacing them with U+FFFD would change the text without saying so; they are refused.
 * - the 66 noncharacters (U+FDD0-U+FDEF and the last two code points of every plane): "permanently reserved
 *   for internal use" (The Unicode Standard, D14 and section 23.7). SQS itself refuses two of them, U+FFFE
 *   and U+FFFF (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html).
 *
 * Control characters are each field's own rule (one-line fields refuse all C0 controls; bodies keep TAB,
 * LF and CR): see the field's schema.
 */

// In a /u pattern a surrogate pair is one code point, so \p{Cs} (Surrogate) matches only lone surrogates.
const UNCARRIABLE = /[\p{Cs}\p{Noncharacter_Code_Point}]/u;

/** Why a text cannot be carried to a mail, or undefined when it can. One linear scan. */
export function uncarriableText(value: string): string | undefined {
  const found = UNCARRIABLE.exec(value);
  if (found === null) return undefined;
  const code = (found[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return code.length === 4 && code >= 'D800' && code <= 'DFFF'
    ? `must be valid Unicode text: it has a lone surrogate (U+${code}), which has no UTF-8 form`
    : `must not contain the Unicode noncharacter U+${code}`;
}

/**
 * Control characters a multi-line text (a mail body, a form's message) may not hold: every C0 control but
 * TAB, LF and CR, and DEL. NUL is not text in a message (RFC 5322 section 3.5); the others have no meaning
 * in a mail, and some (ESC) drive the terminal that shows it. Forms have refused them from the start; the
 * API refuses the same.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
export const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
