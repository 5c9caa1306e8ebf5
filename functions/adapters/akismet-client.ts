import {
  AKISMET_COMMENT_CHECK_URL,
  type AkismetClient,
  AkismetUnavailableError,
  type AkismetVerdict,
} from '../core/archive/akismet';

/**
 * comment-check over HTTPS, bounded by the form's timeout. The URL is Akismet's, fixed in core; `url` is for
 * the local stack's tests only, given in code by the composition root, never by configuration.
 * https://akismet.com/developers/detailed-docs/comment-check/
 */
export function httpAkismetClient(url: string = AKISMET_COMMENT_CHECK_URL): AkismetClient {
  return {
    async check({ key, params, timeoutMs }): Promise<AkismetVerdict> {
      const body = new URLSearchParams([
        ['api_key', key],
        ...params.map(([n, v]) => [n, v] as [string, string]),
      ]);
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          body,
          headers: { 'user-agent': 'Postroom/1 | Akismet/1.1' },
          signal: AbortSignal.timeout(timeoutMs),
          redirect: 'error',
        });
      } catch (error) {
        throw new AkismetUnavailableError(error instanceof Error ? error.name : 'fetch failed', {
          cause: error,
        });
      }
      const text = (await response.text().catch(() => '')).trim();
      if (!response.ok) throw new AkismetUnavailableError(`Akismet answered ${response.status}`);
      if (text === 'false') return 'ham';
      if (text === 'true')
        return response.headers.get('x-akismet-pro-tip') === 'discard' ? 'discard' : 'spam';
      // `invalid` (a bad key) or anything else: Akismet says why in X-akismet-debug-help or an alert header.
      const help =
        response.headers.get('x-akismet-debug-help') ?? response.headers.get('x-akismet-alert-msg');
      throw new AkismetUnavailableError(
        `Akismet answered ${JSON.stringify(text.slice(0, 40))}${help ? ` (${help.slice(0, 200)})` : ''}`,
      );
    },
  };
}
