/**
 * A form's subject template checked against the fields a submission can have, when the configuration is
 * read (npm start, cdk synth), rather than found in a subject that reads "New message from " in production.
 * Every submission has email and message, and may have name; other fields arrive only if the form has them
 * and maxExtraFields lets them through. Fields starting with _ are form controls and never reach the mail.
 */
const STANDARD_FIELDS = ['email', 'name', 'message'];
/** What form-submission.ts fills: anything else between braces is sent as written. */
const FIELD_NAME = /^[A-Za-z0-9 _.-]+$/;

export function subjectPlaceholderProblems(subject: string, maxExtraFields: number): string[] {
  const problems: string[] = [];
  for (const match of subject.matchAll(/\{\{(.*?)\}\}/g)) {
    const written = match[0];
    const field = (match[1] ?? '').trim();
    if (!FIELD_NAME.test(field)) {
      problems.push(
        `has ${written}, which is not a field name (letters, digits, spaces, dots, dashes, underscores): it would be sent as written`,
      );
    } else if (field.startsWith('_')) {
      problems.push(`has ${written}, a form control: fields starting with _ never reach the mail`);
    } else if (STANDARD_FIELDS.includes(field)) {
      // Always there (name may be empty).
    } else if (STANDARD_FIELDS.includes(field.toLowerCase())) {
      problems.push(
        `has ${written}, but field names are case-sensitive: the form's field is {{${field.toLowerCase()}}}`,
      );
    } else if (maxExtraFields === 0) {
      problems.push(
        `has ${written}, a field the form does not have: with maxExtraFields 0 only email, name and message reach the mail`,
      );
    }
  }
  return problems;
}
