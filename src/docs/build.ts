/**
 * Builds the docs portal into a directory (default `docs-site/`): the HTTP API and the stream
 * frames rendered by Redocly (`redocly build-docs SPEC --inlineBundle`, Redoc 3 inlined, so the
 * pages render offline with no CDN), plus the catalog, query-rules and index pages of pages.ts.
 *
 * Redocly is a devDependency: the compiled package serves the two Redoc pages prebuilt by
 * `npm run build` (scripts/build.ts) into `dist/docs/site/`; run from the TypeScript sources, a
 * missing page is built into `docs-site/` on first request.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleHashSync } from '../bundle/bundle-hash.js';
import { renderCatalog, renderIndex, renderQueryRules } from './pages.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Redoc pages prebuilt at pack time: `site/` next to this module (only in the compiled `dist/docs/`). */
export const PREBUILT_DOCS_DIR = fileURLToPath(new URL('./site/', import.meta.url));

/**
 * Where the built portal lives: `SPECSTREAM_DOCS_DIR`, else the pages prebuilt into the package
 * (`dist/docs/site/`) when they exist, else `docs-site/` in the repository.
 */
export function docsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.SPECSTREAM_DOCS_DIR ?? (existsSync(PREBUILT_DOCS_DIR) ? PREBUILT_DOCS_DIR : join(ROOT, 'docs-site'));
}

/** Whether Redocly (a devDependency, absent from a production install) can build pages here. */
export function redoclyInstalled(): boolean {
  return existsSync(join(ROOT, 'node_modules', '.bin', 'redocly'));
}

/** The Redoc pages and the spec each is built from. */
export const REDOC_PAGES = { 'api.html': 'specs/openapi.yaml', 'stream.html': 'specs/asyncapi.yaml' } as const;

/** Builds one Redoc page into `outDir`. */
export async function buildRedocPage(page: keyof typeof REDOC_PAGES, outDir = docsDir(), spec = join(ROOT, REDOC_PAGES[page])): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const out = join(outDir, page);
  const redocly = join(ROOT, 'node_modules', '.bin', 'redocly');
  if (!redoclyInstalled()) throw new Error(`docs page ${page} is not built in ${outDir} and @redocly/cli is not installed: run npm run build`);
  await run(redocly, ['build-docs', spec, '--inlineBundle', '-o', out], {
    cwd: ROOT,
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  // The only remote reference left in an --inlineBundle build is the "API docs by Redocly" footer
  // logo; inline a blank image instead so the page makes no request at all when viewed.
  const html = await readFile(out, 'utf8');
  await writeFile(out, html.replaceAll(REDOC_LOGO, BLANK_SVG));
  return out;
}

/**
 * The prebuilt pages share one copy of Redoc's standalone script (2.2 MB of the 2.5 MB of each
 * page): `npm run build` stores it once as `site/redoc-standalone.js` and each page with this
 * marker in its place; `readRedocPage` puts it back, so the bytes served are those Redocly wrote.
 */
export const REDOC_STANDALONE_MARKER = '/*specstream:redoc-standalone*/';
/** How Redoc's standalone script ends in an `--inlineBundle` page (Redoc 2/3). */
const REDOC_STANDALONE_END = 'export{RedocStandalone,hydrate,init};';

/** Redoc's standalone script inside a built page: the first inline script's text up to its export, or undefined. */
export function redocStandaloneOf(html: string): string | undefined {
  const end = html.indexOf(REDOC_STANDALONE_END);
  if (end < 0) return undefined;
  // The script element that contains it: the first whose closing tag comes after it (inline
  // JavaScript cannot contain a literal closing tag, but may contain the text "<script").
  for (let open = html.indexOf('<script'); open >= 0 && open < end; open = html.indexOf('<script', open + 1)) {
    if (html.indexOf('</script>', open) > end) {
      const start = html.indexOf('>', open) + 1;
      return html.slice(start, end + REDOC_STANDALONE_END.length);
    }
  }
  return undefined;
}

let standalone: Promise<string> | undefined;

/** A built page's HTML, with the shared standalone script put back where a prebuilt bundle page has the marker. */
export async function readRedocPage(file: string): Promise<string> {
  const html = await readFile(file, 'utf8');
  if (!html.includes(REDOC_STANDALONE_MARKER)) return html;
  standalone ??= readFile(join(PREBUILT_DOCS_DIR, 'redoc-standalone.js'), 'utf8');
  const script = await standalone;
  return html.replace(REDOC_STANDALONE_MARKER, () => script);
}

const REDOC_LOGO = 'https://cdn.redoc.ly/redoc/logo-mini-full.svg';
const BLANK_SVG = 'data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22/%3E';

/** Builds the whole portal into `outDir`; resolves with the files written. */
export async function buildDocs(outDir = docsDir()): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written = await Promise.all([buildRedocPage('api.html', outDir), buildRedocPage('stream.html', outDir)]);
  const own: [string, string][] = [
    ['index.html', renderIndex()],
    ['catalog.html', renderCatalog()],
    ['query-rules.html', renderQueryRules()],
  ];
  for (const [name, html] of own) {
    await writeFile(join(outDir, name), html);
    written.push(join(outDir, name));
  }
  return written;
}

/**
 * The folder of a non-native bundle's Redoc pages: `bundleDir/generated/docs/<the first 16 hex
 * digits of bundleHash(bundleDir)>/` (git-ignored), so a page built from older specs is never
 * served for newer ones.
 */
export function bundleDocsFolder(bundleDir: string): string {
  return join(bundleDir, 'generated', 'docs', bundleHashSync(bundleDir).slice(0, 16));
}

/**
 * The path of a Redoc page (`api.html` from `openapi.yaml`, `stream.html` from `asyncapi.yaml`)
 * of the bundle in `bundleDir`, built on first request into `bundleDocsFolder` when Redocly is
 * installed. Resolves with `undefined` when it is not built and cannot be (a production install:
 * Redocly is a devDependency).
 */
export async function bundleRedocPage(page: keyof typeof REDOC_PAGES, bundleDir: string): Promise<string | undefined> {
  const folder = bundleDocsFolder(bundleDir);
  if (!existsSync(join(folder, page)) && !redoclyInstalled()) return undefined;
  return redocPage(page, folder, join(bundleDir, page === 'api.html' ? 'openapi.yaml' : 'asyncapi.yaml'));
}

const building = new Map<string, Promise<string>>();

/**
 * The path of a built Redoc page, building it first if `outDir` lacks it (once per process), so a
 * server started without `npm run docs` still serves the whole portal.
 */
export async function redocPage(page: keyof typeof REDOC_PAGES, outDir = docsDir(), spec?: string): Promise<string> {
  const file = join(outDir, page);
  try {
    await stat(file);
    return file;
  } catch {
    let pending = building.get(file);
    if (!pending) {
      pending = buildRedocPage(page, outDir, spec).finally(() => building.delete(file));
      building.set(file, pending);
    }
    return pending;
  }
}
