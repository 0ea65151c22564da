import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileDestination } from '../../src/destinations/file-destination.js';
import type { SpecstreamEvent } from '../../src/generated/events.js';

const event = (id: string) => ({ id, type: 'grant.created', time: '2026-03-01T00:00:00Z', data: {} }) as unknown as SpecstreamEvent;

describe('FileDestination', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-file-dest-'));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('#send', () => {
    it('appends one JSON line per event, creating the directory', async () => {
      const path = join(dir, 'a', 'out.ndjson');
      const destination = new FileDestination({ path });
      await destination.send([event('1'), event('2')]);
      await destination.flush();
      await destination.send([event('3')]);
      await destination.close();
      expect(readFileSync(path, 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(['1', '2', '3']);
      expect(destination.name).toBe(`file:${path}`);
    });

    it('ends a torn last line before appending', async () => {
      const path = join(dir, 'torn.ndjson');
      writeFileSync(path, '{"id":"0"}\n{"id":"1","ty');
      const destination = new FileDestination({ path });
      await destination.send([event('2')]);
      await destination.close();
      expect(readFileSync(path, 'utf8').split('\n')).toEqual(['{"id":"0"}', '{"id":"1","ty', JSON.stringify(event('2')), '']);
    });

    it('writes to stdout for path "-"', async () => {
      const written: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string, callback: (error?: Error) => void) => {
        written.push(chunk);
        callback();
        return true;
      }) as typeof process.stdout.write);
      const destination = new FileDestination({ path: '-' });
      await destination.send([event('1')]);
      expect(written).toEqual([JSON.stringify(event('1')) + '\n']);
      expect(destination.name).toBe('stdout');
    });

    it('rejects after close', async () => {
      const destination = new FileDestination({ path: join(dir, 'x.ndjson') });
      await destination.close();
      await destination.close();
      await expect(destination.send([event('1')])).rejects.toThrow(`file:${join(dir, 'x.ndjson')}: send() after close()`);
    });
  });
});
