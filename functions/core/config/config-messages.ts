import type * as z from 'zod/mini';

/**
 * Configuration errors in words a person who wrote the file understands: "is required", "must be a list of
 * addresses", rather than the schema library's "Invalid input: expected array, received string"; and forms
 * named by their id (`postroom.forms["contact"].recipients`) rather than by their place in the list.
 */

type Issue = z.core.$ZodIssue;

/** What a list field holds, for "must be a list of ...". */
const LIST_OF: Readonly<Record<string, string>> = {
  recipients: 'addresses',
  allowedOrigins: 'origins such as https://www.example.com',
  allowedRedirects: 'URLs',
  allowedTypes: 'MIME types',
  blockedWords: 'words',
  hostnames: 'hostnames',
  forms: 'forms',
};

/** Fields a configuration may still have from an earlier version, with where they went. */
const RETIRED: Readonly<Record<string, string>> = {
  'autoresponse.html':
    'is no longer read: the HTML comes from the form-autoresponse template, or from a template of your own named by autoresponse.template (docs/templates.md)',
};

const TYPE_WORDS: Readonly<Record<string, string>> = {
  string: 'text (in double quotes)',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object ({ ... })',
};

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value: unknown = raw;
  for (const key of path) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** Two forms share the id: their places in the list tell them apart. */
function duplicated(raw: unknown, id: string): boolean {
  const forms = valueAt(raw, ['forms']);
  return Array.isArray(forms) && forms.filter((form) => valueAt(form, ['id']) === id).length > 1;
}

/** The dotted path of a field as people write it, each form by its id when it has one of its own. */
export function fieldPath(path: ReadonlyArray<PropertyKey>, raw: unknown): string {
  let text = 'postroom';
  path.forEach((key, index) => {
    if (typeof key !== 'number') {
      text += `.${String(key)}`;
      return;
    }
    const id = path[index - 1] === 'forms' && index === 1 ? valueAt(raw, ['forms', key, 'id']) : undefined;
    text += typeof id === 'string' && id !== '' && !duplicated(raw, id) ? `["${id}"]` : `[${key}]`;
  });
  return text;
}

function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${Number(n) === 1 ? '' : 's'}`;
}

/** One issue as the end of a sentence that starts with the field: "is required". */
export function describeIssue(issue: Issue, raw: unknown): string {
  const last = issue.path.at(-1);
  const field = typeof last === 'string' ? last : undefined;
  switch (issue.code) {
    case 'invalid_type': {
      if (valueAt(raw, issue.path) === undefined) return 'is required';
      if (issue.expected === 'array') {
        const of = field === undefined ? undefined : LIST_OF[field];
        return `must be a list${of ? ` of ${of}` : ''} in [ ], even for one`;
      }
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    }
    case 'too_small': {
      const min = issue.minimum;
      if (issue.origin === 'array')
        return `must have at least ${plural(min, 'entry').replace(/entrys$/, 'entries')}`;
      if (issue.origin === 'string')
        return Number(min) === 1 ? 'must not be empty' : `must be at least ${plural(min, 'character')}`;
      return issue.inclusive ? `must be at least ${min}` : `must be more than ${min}`;
    }
    case 'too_big': {
      const max = issue.maximum;
      if (issue.origin === 'array')
        return `must have at most ${plural(max, 'entry').replace(/entrys$/, 'entries')}`;
      if (issue.origin === 'string') return `must be at most ${plural(max, 'character')}`;
      return issue.inclusive ? `must be at most ${max}` : `must be less than ${max}`;
    }
    case 'unrecognized_keys': {
      const retired = issue.keys.flatMap((key) => {
        const hint = RETIRED[`${field ?? ''}.${key}`];
        return hint === undefined ? [] : [`; ${field}.${key} ${hint}`];
      });
      return `has ${issue.keys.length === 1 ? 'a field' : 'fields'} it does not know: ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; docs/configuration.md lists every field)${retired.join('')}`;
    }
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      // A discriminated union (transport.kind) names the values it knows in its message.
      const known = /Expected (.+)$/.exec(issue.message)?.[1];
      if (valueAt(raw, issue.path) === undefined) return 'is required';
      return known
        ? `must be ${known.replace(/'/g, '"').split(' | ').join(' or ')}`
        : 'is not one of the accepted forms';
    }
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    default:
      // Custom rules and formats carry messages written for people already.
      return issue.message;
  }
}
