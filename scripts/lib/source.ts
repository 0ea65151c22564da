/**
 * Small helpers for emitting TypeScript source text: quoting, indentation, TSDoc comments and
 * JSON values as object literals. Everything here is deterministic: the same input always gives
 * the same bytes.
 */

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A single-quoted TypeScript string literal. */
export function quote(value: string): string {
  const json = JSON.stringify(value).slice(1, -1);
  return `'${json.replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}

/** A property key: bare when it is an identifier, quoted otherwise. */
export function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : quote(key);
}

/** Indents every line but the first by `prefix` (the first line continues the current one). */
export function indentRest(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line, index) => (index === 0 || line === '' ? line : prefix + line))
    .join('\n');
}

/** Indents every non-empty line by `prefix`. */
export function indentAll(text: string, prefix = '  '): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : prefix + line))
    .join('\n');
}

/** A TSDoc comment (`/** ... *\/`), or '' when there is nothing to say. */
export function docComment(lines: ReadonlyArray<string | undefined>): string {
  const text = lines
    .filter((line): line is string => line !== undefined)
    .join('\n')
    .trim()
    .replace(/\*\//g, '*\\/');
  if (text === '') return '';
  const body = text.split('\n').map((line) => line.trimEnd());
  if (body.length === 1) return `/** ${body[0]} */\n`;
  return `/**\n${body.map((line) => (line === '' ? ' *' : ` * ${line}`)).join('\n')}\n */\n`;
}

/** `grant.created` -> `GrantCreated`, `audit_log.created` -> `AuditLogCreated`, `wsEvent` -> `WsEvent`. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter((part) => part !== '')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}

/** `GrantCreated` -> `grantCreated`. */
export function camelCase(name: string): string {
  const pascal = pascalCase(name);
  return pascal[0]!.toLowerCase() + pascal.slice(1);
}

/** `since_id` -> `sinceId`. */
export function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * A JSON value as a TypeScript literal: single-quoted strings, bare keys where possible, 2-space
 * indentation, short arrays and objects on one line. Key order is the value's own.
 */
export function literal(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`cannot emit non-finite number ${value}`);
      return String(value);
    case 'boolean':
      return String(value);
    case 'object':
      break;
    default:
      throw new TypeError(`cannot emit a ${typeof value} as a JSON literal`);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map(literal);
    const inline = `[${items.join(', ')}]`;
    if (!items.some((item) => item.includes('\n')) && inline.length <= 80) return inline;
    return `[\n${items.map((item) => `  ${indentRest(item)},`).join('\n')}\n]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).map(([key, item]) => `${propertyKey(key)}: ${literal(item)}`);
  if (entries.length === 0) return '{}';
  const inline = `{ ${entries.join(', ')} }`;
  if (!entries.some((entry) => entry.includes('\n')) && inline.length <= 80) return inline;
  return `{\n${entries.map((entry) => `  ${indentRest(entry)},`).join('\n')}\n}`;
}

/** A regular expression literal equivalent to `new RegExp(pattern, 'u')`; throws if the pattern is invalid. */
export function regexLiteral(pattern: string): string {
  const expected = new RegExp(pattern, 'u');
  // Escape `/` (unless already escaped) and line terminators so the literal parses as one token.
  let source = '';
  let escaped = false;
  let inClass = false;
  for (const char of pattern) {
    if (escaped) {
      source += char;
      escaped = false;
      continue;
    }
    if (char === '\\') {
      escaped = true;
      source += char;
      continue;
    }
    if (char === '[') inClass = true;
    else if (char === ']') inClass = false;
    if (char === '/' && !inClass) source += '\\/';
    else if (char === '\n') source += '\\n';
    else if (char === '\r') source += '\\r';
    else if (char === '\u2028') source += '\\u2028';
    else if (char === '\u2029') source += '\\u2029';
    else source += char;
  }
  const text = `/${source}/u`;
  const actual = new Function(`return ${text};`)() as RegExp;
  if (actual.source !== expected.source && new RegExp(actual.source, 'u').source !== expected.source) {
    throw new Error(`regex literal ${text} does not round-trip pattern ${JSON.stringify(pattern)}`);
  }
  return text;
}
