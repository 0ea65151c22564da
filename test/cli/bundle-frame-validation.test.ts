/**
 * `specstream verify --specs DIR`'s validator (src/contract/bundle-frame-validation.ts): frames are
 * matched to the bundle's messages and checked against their payload schemas and the catalog.
 * Each bad frame below breaks exactly one thing the bundle declares.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../../src/bundle/load-bundle.js';
import { BundleFrameValidator } from '../../src/contract/bundle-frame-validation.js';
import { ROOT } from '../client/bundle-server.js';

const ID = 'evt_01JF3K9Y6Q2W8E4R5T7Y9V1X3B';
const example = (name: string, type: string) => loadBundle(join(ROOT, 'examples', name)).catalog.find((entry) => entry.type === type)!.example!;

describe('BundleFrameValidator', () => {
  const validators: Record<string, BundleFrameValidator> = {};
  beforeAll(async () => {
    for (const name of ['audit-log', 'grant-events', 'siem-live-tail', 'admin-actions']) validators[name] = await BundleFrameValidator.create(loadBundle(join(ROOT, 'examples', name)));
  });

  it('accepts the frames of audit-log (unnamed events with id: lines, an id-only resume point, comments, retry)', () => {
    const v = validators['audit-log']!;
    const data = JSON.stringify({ type: 'audit_log_created', data: example('audit-log', 'audit_log_created') });
    expect(v.sse({ kind: 'event', id: ID, event: undefined, data })).toEqual({ ok: true, message: 'sse:event', id: ID, event: true });
    expect(v.sse({ kind: 'id', id: ID })).toEqual({ ok: true, message: 'sse:position' });
    expect(v.sse({ kind: 'comment', text: 'heartbeat' })).toEqual({ ok: true, message: 'sse:heartbeat' });
    expect(v.sse({ kind: 'comment', text: 'you are reading too slowly, dropped 12 messages' })).toEqual({ ok: true, message: 'sse:droppedNotice' });
    expect(v.sse({ kind: 'retry', value: 2000 })).toEqual({ ok: true, message: 'sse:retry' });
  });

  it.each([
    ['a named event on an unnamed stream', { kind: 'event', id: ID, event: 'audit_log_created', data: '{}' }, 'event: audit_log_created on a stream of unnamed events'],
    ['an event without its id: line', { kind: 'event', id: undefined, event: undefined, data: '{"type":"audit_log_created","data":{}}' }, 'missing id: field'],
    ['an envelope with a field the bundle does not declare', { kind: 'event', id: ID, event: undefined, data: JSON.stringify({ type: 'audit_log_created', data: example('audit-log', 'audit_log_created'), id: ID }) }, '(root)'],
    ['data that breaks the catalog', { kind: 'event', id: ID, event: undefined, data: '{"type":"audit_log_created","data":{"auditLogId":"nope"}}' }, 'data of audit_log_created'],
    ['a type outside the catalog', { kind: 'event', id: ID, event: undefined, data: '{"type":"nope","data":{}}' }, ''],
    ['an unknown comment', { kind: 'comment', text: 'hello' }, 'comment ": hello" matches 0 messages'],
    ['an id-only block that is no event id', { kind: 'id', id: 'nope' }, ''],
  ] as const)('rejects %s', (_name, frame, error) => {
    const result = validators['audit-log']!.sse(frame);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(error);
  });

  it('tells the SIEM frames apart by their discriminator and checks each record against its type', () => {
    const v = validators['siem-live-tail']!;
    const alert = { type: 'alert', alert: { id: ID, ...example('siem-live-tail', 'alert') } };
    expect(v.ws(JSON.stringify(alert))).toEqual({ ok: true, message: 'ws:alertFrame', id: ID, event: true });
    const wrongType = { type: 'event', event: { id: ID, ...example('siem-live-tail', 'alert') } };
    expect(v.ws(JSON.stringify(wrongType))).toMatchObject({ ok: false, message: 'ws:eventFrame' });
    expect(v.ws('{"type":"status","ts":"2026-01-01T00:00:00Z"}')).toMatchObject({ ok: false, message: 'ws:status' });
    expect(v.ws('{"type":"mystery"}')).toMatchObject({ ok: false, message: 'ws:?' });
  });

  it('reads the spread payload of admin-actions and the bare WebSocket envelope of grant-events', () => {
    const admin = { event_id: ID, at: '2026-01-01T00:00:00.000Z', type: 'Liquidation', ...example('admin-actions', 'Liquidation') };
    expect(validators['admin-actions']!.sse({ kind: 'event', id: ID, event: 'Liquidation', data: JSON.stringify(admin) })).toMatchObject({ ok: true, id: ID });
    expect(validators['admin-actions']!.sse({ kind: 'event', id: ID, event: 'LegacyNote', data: JSON.stringify(admin) })).toMatchObject({ ok: false });
    const grant = { id: ID, type: 'grant.created', createdAt: '2026-01-01T00:00:00.000Z', data: example('grant-events', 'grant.created') };
    expect(validators['grant-events']!.ws(JSON.stringify(grant))).toEqual({ ok: true, message: 'ws:event', id: ID, event: true });
    expect(validators['grant-events']!.ws(JSON.stringify({ ...grant, data: {} }))).toMatchObject({ ok: false });
  });
});
