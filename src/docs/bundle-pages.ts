/**
 * The docs portal of a bundle other than the native one: the index and the event catalog rendered
 * from the bundle's own catalog (types, schemas, examples, scope names), so the portal describes
 * exactly the API being served. The HTTP API and stream pages are Redoc builds of the bundle's own
 * documents (src/docs/build.ts `redocPage` with the bundle's spec paths).
 */
import type { ServedBundle } from '../bundle/served-bundle.js';
import { escape, layout } from './pages.js';

/** The bundle's portal landing page. */
export function renderBundleIndex(served: ServedBundle): string {
  const { bundle, catalog } = served;
  const spec = bundle.operations.find((op) => op.role === 'spec');
  const links = spec
    ? ['openapi.yaml', 'asyncapi.yaml'].map((file) => `<a href="${escape(spec.path.replace(/\{[^}]+\}/, file))}">${file}</a>`).join(' and ')
    : 'its openapi.yaml and asyncapi.yaml';
  const types = catalog.types.map((t) => `<a class="tag" href="/docs/catalog.html#${encodeURIComponent(t)}">${escape(t)}</a>`).join('');
  const operations = bundle.operations
    .map((op) => `<tr><td><code>${op.method.toUpperCase()} ${escape(op.path)}</code></td><td>${escape(op.role)}</td><td>${escape(op.permission)}</td></tr>`)
    .join('');
  return layout(
    bundle.title,
    `<h1>${escape(bundle.title)}</h1><p>Every page here is generated from ${links}.</p>
<section><h2>Operations</h2><table><thead><tr><th>route</th><th>behaviour</th><th>needs</th></tr></thead><tbody>${operations}</tbody></table></section>
<section><h2>Event types</h2>${types}</section>`,
  );
}

/** The bundle's event catalog page: each type's schema, example and the scopes that read it. */
export function renderBundleCatalog(served: ServedBundle): string {
  const { bundle, catalog } = served;
  const { read, separator, admin } = bundle.scopes;
  const sections = catalog.types.map((type) => {
    const entry = catalog.entries[type]!;
    const scopes = [`${read}${separator}${type}`, read, admin].map((s) => `<span class="tag">${escape(s)}</span>`).join('');
    return `<section id="${escape(type)}"><h2>${escape(type)}${entry.deprecated ? ' <span class="tag deprecated">deprecated</span>' : ''}</h2>
<p>${escape(entry.summary)}</p>${entry.description ? `<p>${escape(entry.description)}</p>` : ''}<p>Read by: ${scopes}</p>
<div class="grid"><div><h3>data schema</h3><pre>${escape(JSON.stringify(entry.schema, null, 2))}</pre></div>
<div><h3>example data</h3><pre>${escape(JSON.stringify(entry.example ?? {}, null, 2))}</pre></div></div></section>`;
  });
  return layout('Event catalog', `<h1>Event catalog</h1><p>${catalog.types.length} types.</p>${sections.join('')}`);
}
