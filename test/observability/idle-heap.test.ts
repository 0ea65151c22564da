import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { watchIdleHeap } from '../../src/observability/idle-heap.js';

/** Resolves once `condition()` holds, polling every 20 ms; rejects after `deadlineMs`. */
async function waitFor(condition: () => boolean, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const newSpaceSize = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')!.space_size;

describe('watchIdleHeap', () => {
  it('collects while the event loop is idle, and gives the grown young generation back', async () => {
    // Grow the young generation: objects that survive scavenges make V8 enlarge the semi-spaces.
    let kept: object[] = [];
    for (let round = 0; round < 40; round++) {
      kept.push(...Array.from({ length: 20_000 }, (_, i) => ({ round, i, text: `item ${i}` })));
      if (kept.length > 400_000) kept = kept.slice(200_000);
    }
    kept = [];
    const grown = newSpaceSize();
    const watcher = watchIdleHeap({ intervalMs: 50, idleUtilization: 0.5 });
    try {
      await waitFor(() => watcher.collections >= 3);
      await waitFor(() => newSpaceSize() < grown);
      expect(newSpaceSize()).toBeLessThan(grown);
    } finally {
      watcher.stop();
    }
  });

  it('does nothing while the event loop is busy', async () => {
    // No interval can be this idle (a utilisation below 0), so it never counts as idle.
    const watcher = watchIdleHeap({ intervalMs: 20, idleUtilization: -1 });
    const ticks = { seen: 0 };
    const ticker = setInterval(() => (ticks.seen += 1), 20);
    try {
      await waitFor(() => ticks.seen >= 10);
      expect(watcher.collections).toBe(0);
    } finally {
      clearInterval(ticker);
      watcher.stop();
    }
  });

  it('stops, and stop() is safe to call twice', async () => {
    const watcher = watchIdleHeap({ intervalMs: 20, idleUtilization: 1 });
    await waitFor(() => watcher.collections >= 1);
    watcher.stop();
    watcher.stop();
    const after = watcher.collections;
    const ticks = { seen: 0 };
    const ticker = setInterval(() => (ticks.seen += 1), 20);
    await waitFor(() => ticks.seen >= 10);
    clearInterval(ticker);
    expect(watcher.collections).toBe(after);
  });
});
