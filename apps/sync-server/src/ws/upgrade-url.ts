/**
 * The path and query parameters of an upgrade request, as the WHATWG URL parser reads them.
 *
 * Why not always `new URL(...).searchParams`: URLSearchParams decodes the whole query in
 * JavaScript, a few hundred characters per upgrade (the token), and a reconnect storm runs it
 * for every socket before the server's code is optimised. A request target made only of
 * characters that parser leaves unchanged (a path of non-empty segments of letters, digits, `_`
 * and `-`; a query of those and `. ~ = &`, so no `%` or `+` to decode) reads the same split by hand; anything else goes through `URL`.
 */
export interface UpgradeUrl {
  readonly pathname: string;
  /** The first value of query parameter `name` (as `URLSearchParams.get`), or null. */
  param(name: string): string | null;
}

/** Non-empty segments only: a target starting `//` is scheme-relative to the URL parser. Linear: each repetition starts with `/`. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_-]+)+\/?$/;
const PLAIN_QUERY = /^[A-Za-z0-9_.~=&-]*$/;

export function parseUpgradeUrl(target: string | undefined): UpgradeUrl {
  const raw = target ?? '/';
  const mark = raw.indexOf('?');
  const path = mark < 0 ? raw : raw.slice(0, mark);
  const query = mark < 0 ? '' : raw.slice(mark + 1);
  if (PLAIN_PATH.test(path) && PLAIN_QUERY.test(query)) {
    return {
      pathname: path,
      param(name) {
        for (const pair of query.split('&')) {
          if (pair === '') continue;
          const eq = pair.indexOf('=');
          if ((eq < 0 ? pair : pair.slice(0, eq)) === name) return eq < 0 ? '' : pair.slice(eq + 1);
        }
        return null;
      },
    };
  }
  const url = new URL(raw, 'http://localhost');
  return { pathname: url.pathname, param: (name) => url.searchParams.get(name) };
}
