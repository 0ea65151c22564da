/**
 * A bundle file parsed from YAML, with local `$ref` resolution (`#/components/...`, RFC 6901
 * pointers) that remembers where each resolved node came from, so that problems can name it.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { BundleError } from './bundle-error.js';

export type JsonObject = Record<string, unknown>;

/** True for a plain (non-array) object. */
export function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** One parsed file. */
export class YamlDocument {
  constructor(
    /** The path as given (for messages). */
    readonly file: string,
    readonly root: JsonObject,
  ) {}

  /** Reads and parses `path`; a missing file or bad YAML is a BundleError naming it. */
  static read(path: string, displayName = path): YamlDocument {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      throw new BundleError([{ file: displayName, pointer: '', message: 'the file is missing or unreadable' }]);
    }
    return YamlDocument.parse(text, displayName);
  }

  /** Parses YAML `text` named `displayName`; bad YAML is a BundleError naming it. */
  static parse(text: string, displayName: string): YamlDocument {
    let parsed: unknown;
    try {
      parsed = parseYaml(text, { maxAliasCount: 100 });
    } catch (error) {
      const message = error instanceof Error ? error.message.split('\n')[0] : 'not valid YAML';
      throw new BundleError([{ file: displayName, pointer: '', message: `not valid YAML: ${message}` }]);
    }
    if (!isObject(parsed)) throw new BundleError([{ file: displayName, pointer: '', message: 'expected a YAML mapping at the top' }]);
    return new YamlDocument(displayName, parsed);
  }

  /** The node at an RFC 6901 pointer, or undefined. */
  at(pointer: string): unknown {
    if (pointer === '' || pointer === '#') return this.root;
    const tokens = pointer.replace(/^#/, '').split('/').slice(1);
    let node: unknown = this.root;
    for (const raw of tokens) {
      const token = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(node)) node = node[Number(token)];
      else if (isObject(node)) node = node[token];
      else return undefined;
    }
    return node;
  }

  /**
   * Follows `$ref` chains from `node` (found at `pointer`): resolves with the target and the
   * pointer where it lives. A ref to another file or to nothing is reported through `fail`.
   */
  deref(node: unknown, pointer: string, fail: (pointer: string, message: string) => void): { node: unknown; pointer: string } {
    let current = node;
    let where = pointer;
    for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
      const ref = current.$ref;
      if (hops > 32) {
        fail(where, `$ref chain too long or circular at ${ref}`);
        return { node: undefined, pointer: where };
      }
      if (!ref.startsWith('#')) {
        fail(`${where}/$ref`, `only local references (#/...) are supported, got ${ref}`);
        return { node: undefined, pointer: where };
      }
      const target = this.at(ref);
      if (target === undefined) {
        fail(`${where}/$ref`, `${ref} does not exist`);
        return { node: undefined, pointer: where };
      }
      current = target;
      where = ref.slice(1);
    }
    return { node: current, pointer: where };
  }

  /** A deep copy of `node` with every local `$ref` inlined (cycles are left as `$ref`). */
  inline(node: unknown, seen: ReadonlySet<string> = new Set()): unknown {
    if (Array.isArray(node)) return node.map((item) => this.inline(item, seen));
    if (!isObject(node)) return node;
    if (typeof node.$ref === 'string' && node.$ref.startsWith('#') && !seen.has(node.$ref)) {
      const target = this.at(node.$ref);
      if (target === undefined) return node;
      return this.inline(target, new Set([...seen, node.$ref]));
    }
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) out[key] = this.inline(value, seen);
    return out;
  }
}

/** Every `x-specstream-*` key in `node`, with its pointer. */
export function findExtensions(node: unknown, pointer = ''): Array<{ key: string; pointer: string; parent: string }> {
  const found: Array<{ key: string; pointer: string; parent: string }> = [];
  const walk = (value: unknown, at: string) => {
    if (Array.isArray(value)) value.forEach((item, index) => walk(item, `${at}/${index}`));
    else if (isObject(value)) {
      for (const [key, child] of Object.entries(value)) {
        const childPointer = `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        if (key.startsWith('x-specstream-')) found.push({ key, pointer: childPointer, parent: at });
        else walk(child, childPointer);
      }
    }
  };
  walk(node, pointer);
  return found;
}
