/**
 * A mistake in the `specstream forward` configuration file: the message names the file, the key
 * path and what is wrong. In a file of its own so the CLI can recognise it without loading the
 * destinations.
 */
export class ForwardConfigError extends Error {
  override readonly name = 'ForwardConfigError';
}
