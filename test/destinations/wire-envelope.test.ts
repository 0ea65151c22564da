/**
 * The built-in destinations on a bundle's envelope rather than the native one: examples/grant-events
 * sends `{id, type, createdAt, data}`, and the forwarder tells each destination the envelope's keys
 * (`useEnvelope`). Each mapping reads the time from `createdAt` and the data from `data`; none
 * refuses or drops such an event, and an envelope without an id is never taken as already sent.
 */
import { describe, expect, it } from 'vitest';
import { AcceptedIds } from '../../src/destinations/batching.js';
import { bigQueryRow } from '../../src/destinations/bigquery-destination.js';
import { datadogLogEntry } from '../../src/destinations/datadog-destination.js';
import { toKafkaMessage } from '../../src/destinations/kafka-destination.js';
import { s3Objects } from '../../src/destinations/s3-destination.js';
import { splunkHecEvent } from '../../src/destinations/splunk-hec-destination.js';
import type { EnvelopeKeys, GrantexEvent } from '../../src/destinations/wire-event.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';

const GRANT_KEYS: EnvelopeKeys = { id: 'id', type: 'type', time: 'createdAt', data: 'data' };
const grant: GrantexEvent = {
  id: 'evt_01JXYZ0000000000000000000A',
  type: 'grant.created',
  createdAt: '2026-03-01T12:00:00.250Z',
  data: { grantId: 'grnt_01', agentId: 'ag_01', principalId: 'user-123', scopes: ['calendar:read'] },
};
/** The built-in mappings are typed by the native catalog; at run time they get whatever the stream sent. */
const asNative = (event: object) => event as unknown as SpecstreamEvent;

describe('built-in destinations on the grant-events envelope', () => {
  it('Datadog: the log date is createdAt and the envelope goes whole under specstream', () => {
    const entry = datadogLogEntry(asNative(grant), {}, GRANT_KEYS);
    expect(entry.date).toBe(grant.createdAt);
    expect(entry.specstream).toEqual(grant);
    expect(entry.ddtags).toBe('type:grant.created');
    // Without the keys (the native envelope), there is no `time` member: no date rather than a wrong one.
    expect(datadogLogEntry(asNative(grant)).date).toBeUndefined();
  });

  it('Splunk HEC: time is createdAt in epoch seconds', () => {
    const event = splunkHecEvent(asNative(grant), {}, GRANT_KEYS);
    expect(event.time).toBe(Date.parse(grant.createdAt) / 1_000);
    expect(event.event).toEqual(grant);
  });

  it("S3: partitions by createdAt's date instead of refusing the event", () => {
    const objects = s3Objects([asNative(grant)], { envelope: GRANT_KEYS, gzip: false });
    expect(objects.map((object) => object.key)).toEqual([`events/dt=2026-03-01/type=grant.created/${grant.id}-${grant.id}.ndjson`]);
    expect(() => s3Objects([asNative(grant)])).toThrow(/has a time that is not a date: undefined/);
    expect(() => s3Objects([asNative({ ...grant, createdAt: 'yesterday' })], { envelope: GRANT_KEYS })).toThrow(/has a time \(createdAt\) that is not a date: "yesterday"/);
  });

  it('BigQuery: time and data from the envelope keys, absent CloudEvents attributes empty', () => {
    expect(bigQueryRow(asNative(grant), GRANT_KEYS)).toEqual({
      id: grant.id,
      type: grant.type,
      time: grant.createdAt,
      source: '',
      subject: null,
      data: JSON.stringify(grant.data),
      specversion: '',
      datacontenttype: 'application/json',
    });
  });

  it('Kafka: the value is data, createdAt a ce_ header', () => {
    const record = toKafkaMessage(asNative(grant), { topic: 'grants', envelope: GRANT_KEYS });
    expect(JSON.parse(record.message.value!.toString('utf8'))).toEqual(grant.data);
    expect(record.message.headers).toMatchObject({ ce_id: grant.id, ce_type: grant.type, ce_createdAt: grant.createdAt });
    expect(record.message.headers).not.toHaveProperty('ce_data');
  });

  it('never takes an event without an id as already accepted (it could be posted twice, never skipped)', () => {
    const accepted = new AcceptedIds();
    const first = asNative({ type: 'audit_log_created', data: { n: 1 } });
    const second = asNative({ type: 'audit_log_created', data: { n: 2 } });
    accepted.add([first]);
    expect(accepted.pending([first, second])).toEqual([first, second]);
  });
});
