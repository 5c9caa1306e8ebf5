import { ForbiddenScopeError, mayReadSubmissions } from '../api/api-keys';
import { answering, authenticated, type SendApiDeps } from '../api/send-api';
import { errorName, NotFoundError, ServiceUnavailableError, ValidationError } from '../errors';
import type { HttpRequest, HttpResponse } from '../http';
import { jsonResponse } from '../http';
import { type ArchiveReader, BadCursorError, FOLDERS, type Folder } from './submission-archive';

/** Most submissions in one page. */
export const MAX_PAGE_SIZE = 100;

/**
 * `GET /v1/forms/{formId}/submissions?status=inbox|spam&since&until&limit&cursor`: a form's archived
 * submissions, newest first, for a key with `submissions:read` (every form) or `submissions:read:<formId>`.
 * File contents are not served here: each file is listed by name, type and size (the CLI's export links
 * them on AWS). 404 for a form without archive, as for an unknown form.
 */
export async function listSubmissions(
  formId: string,
  request: HttpRequest,
  params: Readonly<Record<string, string | undefined>>,
  deps: SendApiDeps & { archiveReader?: ArchiveReader | undefined },
): Promise<HttpResponse> {
  return answering(deps, async () => {
    const { scopes } = await authenticated(request, deps, null);
    const form = deps.config.forms.find((candidate) => candidate.id === formId);
    if (!mayReadSubmissions(scopes, formId))
      throw new ForbiddenScopeError(`submissions:read:${formId.slice(0, 64)}`);
    if (form?.archive === undefined || deps.archiveReader === undefined)
      throw new NotFoundError(`There is no archive for form "${formId.slice(0, 64)}".`);
    const query = { get: (name: string) => params[name] ?? null };
    const errors: Array<{ field: string; detail: string }> = [];
    const status = query.get('status') ?? 'inbox';
    if (!(FOLDERS as ReadonlyArray<string>).includes(status))
      errors.push({ field: 'status', detail: 'must be inbox or spam' });
    const limitText = query.get('limit') ?? '50';
    const limit = Number(limitText);
    if (!/^\d{1,3}$/.test(limitText) || limit < 1 || limit > MAX_PAGE_SIZE)
      errors.push({ field: 'limit', detail: `must be 1 to ${MAX_PAGE_SIZE}` });
    const bound = (name: 'since' | 'until') => {
      const value = query.get(name);
      if (value === null) return undefined;
      const ms = Date.parse(value);
      if (Number.isNaN(ms)) {
        errors.push({ field: name, detail: 'must be an RFC 3339 time such as 2026-01-31T00:00:00Z' });
        return undefined;
      }
      return new Date(ms).toISOString();
    };
    const since = bound('since');
    const until = bound('until');
    if (errors.length > 0) throw new ValidationError(errors);
    try {
      const page = await deps.archiveReader.listFolder(
        { formId, folder: status as Folder, since, until, limit, cursor: query.get('cursor') ?? undefined },
        Math.floor(deps.clock.now() / 1000),
      );
      return jsonResponse(
        200,
        {
          submissions: page.items.map((item) => ({
            id: item.id,
            status: item.folder,
            receivedAt: item.receivedAt,
            ...(item.spamReason ? { spamReason: item.spamReason } : {}),
            fields: Object.fromEntries(item.fields),
            files: item.files.map(({ name, contentType, size }) => ({ name, contentType, size })),
          })),
          ...(page.cursor ? { cursor: page.cursor } : {}),
        },
        { 'cache-control': 'no-store' },
      );
    } catch (error) {
      if (error instanceof BadCursorError)
        throw new ValidationError([{ field: 'cursor', detail: error.message }]);
      // The table did not answer: a read to retry (503 + Retry-After, as the other routes answer a store
      // failure), not the handler's 500 that says a mail was not accepted.
      deps.log.error('archive read failed', { outcome: 'archive-failed', error: errorName(error) });
      throw new ServiceUnavailableError('Submissions cannot be read right now; try again shortly.', 5);
    }
  });
}
