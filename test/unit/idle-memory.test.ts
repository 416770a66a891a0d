import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { QUIET_MS, quietReleaser } from '#local-runtime/idle-memory.cjs';

/** A releaser on a clock and a pool the test moves, counting its collections. */
function releaserUnderTest() {
  const state = { time: 0, quietSince: 0 as number | undefined, collections: 0, rss: 300 * 2 ** 20 };
  const releaser = quietReleaser({
    quietSince: () => state.quietSince,
    now: () => state.time,
    rss: () => state.rss,
    collect: () => {
      state.collections++;
      state.rss = 240 * 2 ** 20;
    },
  });
  return { state, releaser };
}

describe('idle memory: the main thread gives memory back once the pool is quiet', () => {
  it(`collects once the pool has been quiet for ${QUIET_MS} ms, and not while a request is in flight`, () => {
    const { state, releaser } = releaserUnderTest();
    state.time = QUIET_MS - 1;
    assert.equal(releaser.check(), false, 'not quiet long enough');
    state.quietSince = undefined;
    state.time = 10 * QUIET_MS;
    assert.equal(releaser.check(), false, 'a request is in flight');
    state.quietSince = state.time;
    state.time += QUIET_MS;
    assert.equal(releaser.check(), true);
    assert.deepEqual(releaser.releases(), { count: 1, lastRssBeforeMb: 300, lastRssAfterMb: 240 });
  });

  it('collects once per quiet spell, and again after the pool has worked', () => {
    const { state, releaser } = releaserUnderTest();
    state.time = QUIET_MS;
    assert.equal(releaser.check(), true);
    state.time += 60_000;
    assert.equal(releaser.check(), false, 'still the same quiet spell');
    state.quietSince = state.time;
    state.time += QUIET_MS;
    assert.equal(releaser.check(), true, 'a request ended since');
    assert.equal(state.collections, 2);
  });

  it("leaves no gc function to contexts made after it, as the instances' are", () => {
    const releaser = quietReleaser({ quietSince: () => 0, now: () => QUIET_MS });
    assert.equal(releaser.check(), true, "V8's collection ran");
    assert.equal(vm.runInNewContext('typeof gc'), typeof (globalThis as { gc?: unknown }).gc);
  });
});
