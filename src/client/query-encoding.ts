/**
 * Query strings the SDK sends: `URLSearchParams` serialises with the form-urlencoded rules (WHATWG
 * URL standard), which leave `*` raw. A query parameter without `allowReserved: true` (OpenAPI 3.1
 * section 4.8.12.2) must carry reserved characters percent-encoded, and servers that enforce it
 * (Specstream's request validation among them) refuse a raw one: a type glob such as `Order*` was a
 * 400 on such a bundle. `%2A` decodes to `*` on every server, so the SDK encodes it always.
 */

/** `url`, its query's every `*` percent-encoded as `%2A` (in place; returned for chaining). Call it after the last `searchParams` change: those re-serialise the query. */
export function encodeReservedQuery(url: URL): URL {
  if (url.search.includes('*')) url.search = url.search.replaceAll('*', '%2A');
  return url;
}
