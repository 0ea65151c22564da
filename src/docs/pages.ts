/**
 * The docs portal's own pages, rendered from the generated catalog and query rules (so they can
 * never disagree with the server): the index, the event catalog (each type's schema, example and
 * the scopes that read it) and the query rules with examples. The HTTP API and stream-frame pages
 * are Redoc builds of the specs (src/docs/build.ts).
 */
import { compileTypeGlob } from '../catalog/type-glob.js';
import { catalog, EVENT_TYPES, type EventType } from '../generated/catalog.js';
import { QUERY_RULES } from '../generated/query.js';

/** The portal's pages, as `GET /docs/{page}` names them. */
export const DOC_PAGES = {
  'api.html': 'HTTP API (OpenAPI 3.1)',
  'stream.html': 'Stream frames (AsyncAPI 3.0)',
  'catalog.html': 'Event catalog',
  'query-rules.html': 'Query rules',
} as const;

export type DocPage = keyof typeof DOC_PAGES;

/** HTML-escapes text. */
export function escape(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2430;background:#f7f8fa}
header{background:#14213d;color:#fff;padding:14px 28px;display:flex;gap:24px;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header strong{font-size:18px;margin-right:12px}
main{max-width:1100px;margin:0 auto;padding:20px 28px}
section{background:#fff;border:1px solid #e2e6ee;border-radius:8px;padding:16px 20px;margin:16px 0}
h2{margin:0 0 6px;font-size:19px}code,pre{font:13px ui-monospace,Menlo,Consolas,monospace}
pre{background:#f1f3f7;padding:10px 12px;border-radius:6px;overflow:auto;max-height:420px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px}.tag{display:inline-block;background:#e8eefc;color:#23408e;border-radius:4px;padding:1px 7px;margin:2px 4px 2px 0;font:12px ui-monospace,monospace}
.deprecated{background:#fde8e8;color:#9b1c1c}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e2e6ee;padding:6px 8px;text-align:left;vertical-align:top}
`;

/** The portal's page frame: header navigation and styles. */
export function layout(title: string, body: string): string {
  const nav = Object.entries(DOC_PAGES)
    .map(([file, label]) => `<a href="/docs/${file}">${escape(label)}</a>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escape(title)} · Specstream docs</title><style>${STYLE}</style></head>
<body><header><strong><a href="/docs">Specstream docs</a></strong>${nav}<a href="/console">Live console</a></header><main>${body}</main></body></html>`;
}

/** The scopes that let a key read events of `type`, broadest last. */
export function readScopes(type: EventType): string[] {
  const segments = type.split('.');
  const candidates = [`events:read:${type}`];
  for (let i = segments.length - 1; i > 0; i--) candidates.push(`events:read:${segments.slice(0, i).join('.')}.*`);
  candidates.push('events:read');
  return [...candidates.filter((scope) => compileTypeGlob(scope.split(':').slice(2).join(':') || '*')(type)), 'admin'];
}

/** The portal's landing page. */
export function renderIndex(): string {
  const cards = Object.entries(DOC_PAGES)
    .map(([file, label]) => `<section><h2><a href="/docs/${file}">${escape(label)}</a></h2></section>`)
    .join('');
  return layout(
    'Overview',
    `<h1>Specstream</h1><p>Events are CloudEvents 1.0 envelopes, served over REST (backfill), Server-Sent Events and WebSocket.
Every page here is generated from <a href="/specs/openapi.yaml">openapi.yaml</a> and <a href="/specs/asyncapi.yaml">asyncapi.yaml</a>.</p>
${cards}<section><h2>Event types</h2>${EVENT_TYPES.map((t) => `<a class="tag" href="/docs/catalog.html#${t}">${t}</a>`).join('')}</section>`,
  );
}

/** One section per catalog type: title, summary, read scopes, payload schema and example. */
export function renderCatalog(): string {
  const sections = EVENT_TYPES.map((type) => {
    const entry = catalog[type];
    const envelope = { specversion: '1.0', id: 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3A', type, source: `/${type.split('.')[0]}`, time: '2026-03-01T12:00:00.000Z', datacontenttype: 'application/json', data: entry.example };
    return `<section id="${type}" data-type="${type}"><h2><code>${type}</code> — ${escape(entry.title)}${entry.deprecated ? ' <span class="tag deprecated">deprecated</span>' : ''}</h2>
<p>${escape(entry.summary)}</p>${entry.description ? `<p>${escape(entry.description)}</p>` : ''}
<p>Read with: ${readScopes(type).map((s) => `<span class="tag">${s}</span>`).join('')} · publish with <span class="tag">events:write:${type}</span> (or broader)</p>
<div class="grid"><div><h3>Schema of <code>data</code></h3><pre>${escape(JSON.stringify(entry.schema, null, 2))}</pre></div>
<div><h3>Example event</h3><pre>${escape(JSON.stringify(envelope, null, 2))}</pre></div></div></section>`;
  }).join('\n');
  return layout('Event catalog', `<h1>Event catalog</h1><p>${EVENT_TYPES.length} types. A key reads a type when one of its scopes matches it (globs: <code>*</code> matches any run of characters).</p>${sections}`);
}

const T1 = '2026-03-01T00:00:00Z';
const T2 = '2026-03-02T00:00:00Z';
const ID1 = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3A';
const ID2 = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3B';

/** A request that breaks `rule` (and no other), shown on the query-rules page: the backfill, or the stream for a resume point (which only streams take). */
export function exampleRequest(rule: (typeof QUERY_RULES)[number]): string {
  return rule.param === 'last_event_id' ? `/v1/events/stream?${exampleQuery(rule)}` : `/v1/events?${exampleQuery(rule)}`;
}

function exampleQuery(rule: (typeof QUERY_RULES)[number]): string {
  switch (rule.rule) {
    case 'requires':
      return `${rule.param}=${rule.param === 'until' ? T2 : ID2}`;
    case 'excludes':
      return `${rule.param}=${T1}&${rule.excludes}=${ID1}`;
    case 'ordered':
      return rule.param === 'since' ? `since=${T2}&until=${T1}` : `since_id=${ID2}&until_id=${ID1}`;
    case 'format': {
      const bad = rule.format === 'date-time' ? 'yesterday' : '42';
      if (rule.param === 'until') return `since=${T1}&until=${bad}`;
      if (rule.param === 'until_id') return `since_id=${ID1}&until_id=${bad}`;
      return `${rule.param}=${bad}`;
    }
    case 'catalog':
      return 'types=nope.*';
  }
}

/** The query rules of the spec (`x-specstream-query-rules`), each with an example that breaks it. */
export function renderQueryRules(): string {
  const rows = QUERY_RULES.map(
    (rule) => `<tr><td><code>${rule.code}</code></td><td>${escape(rule.message.replace(/`/g, ''))}</td><td><code>GET ${escape(exampleRequest(rule))}</code> → 400</td></tr>`,
  ).join('');
  return layout(
    'Query rules',
    `<h1>Query rules</h1>
<section><p>One validator, generated from the spec, checks the query of <code>GET /v1/events</code>, <code>GET /v1/events/stream</code> (SSE),
<code>HEAD /v1/events/stream</code> and <code>GET /v1/events/ws</code>. Parameters: <code>types</code> (comma list, globs like <code>grant.*</code>),
<code>since</code>, <code>until</code> (RFC 3339), <code>since_id</code>, <code>until_id</code>, <code>token</code>; header <code>Last-Event-ID</code>
(or <code>last_event_id</code>, <code>lastEventId</code>, <code>lastEventID</code>).</p>
<ul><li>No <code>since</code>, <code>since_id</code> or resume point: live only. <code>GET /v1/events/stream?types=grant.*</code></li>
<li>With one: history from that point, then live, with no gap and no duplicate at the seam. <code>GET /v1/events/stream?since=${T1}</code></li>
<li><code>Last-Event-ID</code> is a resume point and wins over <code>since</code>/<code>since_id</code>, so a reconnecting EventSource continues where it stopped.</li>
<li><code>until</code>/<code>until_id</code> reached: the stream ends (WebSocket: an <code>end</code> frame); a reconnect already past the end gets <code>204 No Content</code>. <code>GET /v1/events/stream?since_id=${ID1}&amp;until_id=${ID2}</code></li></ul></section>
<section><h2>Errors</h2><p>Each broken rule is a <code>400</code> whose <code>code</code> names the rule:</p>
<table><thead><tr><th>code</th><th>rule</th><th>example</th></tr></thead><tbody>${rows}</tbody></table>
<p>The body has the shape of every error: <code>{"error": "a sentence", "code": "UNTIL_REQUIRES_SINCE", "details": [{"path", "code", "message"}]}</code>.</p></section>`,
  );
}

/** Renders one of the portal's own pages. */
export function renderPage(page: 'catalog.html' | 'query-rules.html'): string {
  return page === 'catalog.html' ? renderCatalog() : renderQueryRules();
}
