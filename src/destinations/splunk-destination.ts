/**
 * `SplunkDestination`, the Splunk HEC destination under the name and options of
 * `@grantex/destinations` (`hecUrl`, `hecToken`): {@link SplunkHecDestination} with those two
 * options renamed, and every other option of it kept.
 */
import { SplunkHecDestination, type SplunkHecDestinationOptions } from './splunk-hec-destination.js';

/** Options of {@link SplunkDestination}: those of {@link SplunkHecDestinationOptions}, with `url` and `token` named as `@grantex/destinations` names them. */
export interface SplunkDestinationOptions extends Omit<SplunkHecDestinationOptions, 'url' | 'token'> {
  /** The HEC base URL, e.g. `https://splunk.example.com:8088` (`url` of {@link SplunkHecDestinationOptions}). */
  hecUrl: string;
  /** The HEC token, sent as `Authorization: Splunk <token>` (`token` of {@link SplunkHecDestinationOptions}). */
  hecToken: string;
}

/**
 * Splunk HTTP Event Collector, as `new SplunkDestination({ hecUrl, hecToken })`: each event is one
 * HEC event whose `event` is the envelope as the stream sent it and whose `time` is the event's time.
 * Everything else (batching, retries, indexer acknowledgement) is {@link SplunkHecDestination}'s.
 */
export class SplunkDestination extends SplunkHecDestination {
  /** @throws TypeError without `hecUrl` or `hecToken`, or on a bad option (see {@link SplunkHecDestination}) */
  constructor(options: SplunkDestinationOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError('SplunkDestination: options `{ hecUrl, hecToken }` are required');
    const { hecUrl, hecToken, ...rest } = options;
    if (typeof hecUrl !== 'string' || !URL.canParse(hecUrl)) throw new TypeError(`SplunkDestination: \`hecUrl\` must be the HEC base URL, got ${JSON.stringify(hecUrl)}`);
    if (typeof hecToken !== 'string' || hecToken.trim() === '') throw new TypeError('SplunkDestination: `hecToken` is required');
    super({ ...rest, url: hecUrl, token: hecToken });
  }
}
