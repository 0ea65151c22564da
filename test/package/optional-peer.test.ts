/**
 * The optional peer dependencies (cloud SDKs of the destinations): a missing one is reported in one
 * line naming the package and the npm command, both when a destination is built and when it is
 * imported; an installed one passes. (test/package/tarball.test.ts shows the same from a real
 * production install, where the SDKs are absent.)
 */
import { describe, expect, it } from 'vitest';
import { assertPeerInstalled, importPeer, MissingPeerError } from '../../src/destinations/optional-peer.js';

describe('optional peer dependencies', () => {
  it('assertPeerInstalled throws MissingPeerError, one line naming the package, when it cannot be resolved', () => {
    let error: unknown;
    try {
      assertPeerInstalled('S3Destination', '@example/not-installed');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MissingPeerError);
    expect((error as MissingPeerError).packageName).toBe('@example/not-installed');
    expect((error as Error).message).toBe(
      'S3Destination needs the package @example/not-installed, an optional peer dependency of specstream that is not installed: npm install @example/not-installed@"latest"',
    );
  });

  it('names the range package.json declares for a real peer', () => {
    expect(new MissingPeerError('KafkaDestination', 'kafkajs').message).toMatch(/npm install kafkajs@"\^2\.\d+\.\d+"$/);
  });

  it('passes for installed peers (they are devDependencies here)', () => {
    for (const name of ['@aws-sdk/client-s3', '@google-cloud/bigquery', 'kafkajs']) expect(() => assertPeerInstalled('test', name)).not.toThrow();
  });

  it('importPeer turns "cannot find package" into MissingPeerError and passes other errors through', async () => {
    const missing = '@example/not-installed';
    await expect(importPeer('KafkaDestination', missing, () => import(/* @vite-ignore */ missing))).rejects.toBeInstanceOf(MissingPeerError);
    const other = new Error('boom');
    await expect(importPeer('KafkaDestination', 'kafkajs', () => Promise.reject(other))).rejects.toBe(other);
    await expect(importPeer('KafkaDestination', 'kafkajs', () => import('kafkajs'))).resolves.toHaveProperty('default');
  });

});
