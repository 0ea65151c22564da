/**
 * The error a bad bundle is refused with, at `generate` and at `serve`: the file, the JSON Pointer
 * (RFC 6901) of the offending node, and what was expected. Its message is one line per problem,
 * never a stack trace.
 */
export interface BundleProblem {
  /** The bundle file, e.g. `examples/audit-log/asyncapi.yaml`. */
  file: string;
  /** RFC 6901 pointer into that file, e.g. `/paths/~1api~1events/get`. */
  pointer: string;
  /** What is wrong and what is expected, one sentence. */
  message: string;
}

export class BundleError extends Error {
  constructor(readonly problems: readonly BundleProblem[]) {
    super(problems.map((p) => `${p.file}#${p.pointer}: ${p.message}`).join('\n'));
    this.name = 'BundleError';
  }
}

/** Appends one RFC 6901 reference token to a pointer. */
export function pointerTo(base: string, ...tokens: Array<string | number>): string {
  return base + tokens.map((token) => `/${String(token).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** Collects problems and throws them together. */
export class ProblemList {
  readonly problems: BundleProblem[] = [];

  constructor(private readonly file: string) {}

  /** Records a problem at `pointer`. */
  add(pointer: string, message: string): void {
    this.problems.push({ file: this.file, pointer, message });
  }

  /** A list for another file that shares this one's problems. */
  forFile(file: string): ProblemList {
    const list = new ProblemList(file);
    (list as { problems: BundleProblem[] }).problems = this.problems;
    return list;
  }
}
