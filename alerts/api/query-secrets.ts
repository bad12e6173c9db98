/**
 * Secrets in query strings. EventSource cannot send headers, so the stream routes take the token as
 * `?access_token=`; that one spelling is accepted, and any spelling is kept out of the logs.
 */

/** Query parameter names whose values are never logged, once percent-decoded and case-folded. */
const SECRET_NAME = /token|secret|passw/i;

function decoded(text: string): string {
  const plus = text.replaceAll('+', ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    // A malformed escape elsewhere must not hide `%74oken`: decode the ASCII escapes one by one.
    return plus.replace(/%([0-7][0-9a-f])/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

function queryOf(url: string): { path: string; pairs: string[] } | undefined {
  const q = url.indexOf('?');
  return q < 0 ? undefined : { path: url.slice(0, q), pairs: url.slice(q + 1).split('&') };
}

/**
 * The token of `?access_token=`, named exactly so in the raw URL: `access%5Ftoken` or other
 * encodings the query parser would decode to the same name do not authenticate.
 */
export function accessTokenOf(url: string): string | undefined {
  for (const pair of queryOf(url)?.pairs ?? []) {
    if (!pair.startsWith('access_token=')) continue;
    const token = decoded(pair.slice('access_token='.length));
    if (token !== '') return token;
  }
  return undefined;
}

/** The URL fit for a log line: the value of every parameter whose name decodes to something secret-looking is `[redacted]`. */
export function urlForLog(url: string): string {
  const query = queryOf(url);
  if (!query) return url;
  const pairs = query.pairs.map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    return SECRET_NAME.test(decoded(name)) ? `${name}=[redacted]` : pair;
  });
  return `${query.path}?${pairs.join('&')}`;
}
