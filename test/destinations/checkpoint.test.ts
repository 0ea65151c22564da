import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCheckpoint, MemoryCheckpoint, oldestPosition } from '../../src/destinations/checkpoint.js';

describe('FileCheckpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('#load', () => {
    it('gives no positions when the file does not exist', async () => {
      expect(await new FileCheckpoint(join(dir, 'none.json')).load()).toEqual({});
    });
    it.each([
      ['without positions', '{}'],
      ['with a non-string position', '{"positions":{"a":1}}'],
      ['with positions as an array', '{"positions":["a"]}'],
    ])('throws on a file %s rather than starting over', async (_, text) => {
      writeFileSync(join(dir, 'bad.json'), text);
      await expect(new FileCheckpoint(join(dir, 'bad.json')).load()).rejects.toThrow(`checkpoint ${join(dir, 'bad.json')} has no "positions" object of destination names to event ids`);
    });
    it('throws on a file that is not JSON', async () => {
      writeFileSync(join(dir, 'bad.json'), '{"positions":');
      await expect(new FileCheckpoint(join(dir, 'bad.json')).load()).rejects.toThrow(`checkpoint ${join(dir, 'bad.json')} is not JSON`);
    });
  });

  describe('#save', () => {
    it('replaces the position and leaves no temporary file', async () => {
      const path = join(dir, 'sub', 'cp.json');
      const checkpoint = new FileCheckpoint(path);
      await checkpoint.save({ a: 'evt_1', b: 'evt_1' });
      await checkpoint.save({ a: 'evt_2' });
      expect(await new FileCheckpoint(path).load()).toEqual({ a: 'evt_2' });
      expect(readdirSync(join(dir, 'sub'))).toEqual(['cp.json']);
    });
  });
});

describe('MemoryCheckpoint', () => {
  it('keeps the last saved positions, as a copy', async () => {
    const checkpoint = new MemoryCheckpoint({ d: 'a' });
    expect(await checkpoint.load()).toEqual({ d: 'a' });
    const positions = { d: 'b' };
    await checkpoint.save(positions);
    positions.d = 'c';
    expect(await checkpoint.load()).toEqual({ d: 'b' });
  });
});

describe('oldestPosition', () => {
  it('gives the smallest id (ULIDs sort in log order), undefined for none', () => {
    expect(oldestPosition({ a: '01J0000000000000000000000B', b: '01J0000000000000000000000A' })).toBe('01J0000000000000000000000A');
    expect(oldestPosition({})).toBeUndefined();
  });
});
