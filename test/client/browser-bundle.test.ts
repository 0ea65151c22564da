/**
 * The browser build of the SDK (`GET /console/sdk.js`) carries no bundle loader: the native profile
 * is a generated constant, and `specs`/`specsFromServer` load their Node-only module on demand.
 */
import { describe, expect, it } from 'vitest';
import { bundleConsoleAssets } from '../../src/console/bundle.js';

describe('the browser SDK bundle', () => {
  it('has the native profile and no Node module, YAML parser or bundle loader', async () => {
    const sdk = (await bundleConsoleAssets())['sdk.js'];
    expect(sdk).toContain('/v1/events/stream'); // from src/generated/wire-profile.ts
    expect(sdk).not.toMatch(/["']node:/);
    expect(sdk).not.toContain('YamlDocument');
    expect(sdk).not.toContain('x-specstream-query-rules'); // the loader's keyword table
    expect(sdk).toContain('./bundle-profile.js'); // left as a run-time import
  }, 60_000);
});
