import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileCheckpoint, MemoryCheckpoint } from '../../src/destinations/checkpoint.js';

describe('FileCheckpoint', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'specstream-checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('#load', () => {
    it('gives undefined when the file does not exist', async () => {
      expect(await new FileCheckpoint(join(dir, 'none.json')).load()).toBeUndefined();
    });
    it('throws on a file without an id', async () => {
      writeFileSync(join(dir, 'bad.json'), '{}');
      await expect(new FileCheckpoint(join(dir, 'bad.json')).load()).rejects.toThrow(`checkpoint ${join(dir, 'bad.json')} has no string "id"`);
    });
  });

  describe('#save', () => {
    it('replaces the position and leaves no temporary file', async () => {
      const path = join(dir, 'sub', 'cp.json');
      const checkpoint = new FileCheckpoint(path);
      await checkpoint.save('evt_1');
      await checkpoint.save('evt_2');
      expect(await new FileCheckpoint(path).load()).toBe('evt_2');
      expect(readdirSync(join(dir, 'sub'))).toEqual(['cp.json']);
    });
  });
});

describe('MemoryCheckpoint', () => {
  it('keeps the last saved id', async () => {
    const checkpoint = new MemoryCheckpoint('a');
    expect(await checkpoint.load()).toBe('a');
    await checkpoint.save('b');
    expect(await checkpoint.load()).toBe('b');
  });
});
