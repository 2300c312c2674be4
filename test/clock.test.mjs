// The wall clock: the source's clock is tracked in offset and rate, so a fast or slow source clock does
// not drift away from real time, network jitter does not move the mapping, and a file read at full
// speed has no wall-clock times at all.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Recorder } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { makeMedia, tmpDir, waitFor, TIME_SCALE } from './helpers/media.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const binding = process.env.AV_REWIND_BINDING
  ? require(path.resolve(root, process.env.AV_REWIND_BINDING))
  : require('node-gyp-build')(root);

// A small deterministic PRNG (mulberry32): the same jitter every run.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Packets of a source whose clock runs `rate` times real time (1.05: 5 % fast), as they arrive: 25 video
 * and ~47 audio packets per media second, each delayed by network jitter (mostly a few ms, sometimes
 * 100-400 ms bursts, never negative). Returns timeline µs, arrival µs and the true wall time of each.
 */
function simulate({ seconds, rate, seed = 1, perSecond = 72 }) {
  const n = Math.floor(seconds * perSecond);
  const t = new Float64Array(n), arrival = new Float64Array(n), truth = new Float64Array(n);
  const rand = rng(seed);
  const epoch = 1_700_000_000_000_000; // µs since the epoch
  const latency = 30_000; // constant part of the delay, µs
  for (let i = 0; i < n; i++) {
    t[i] = Math.round((i * 1e6) / perSecond);
    truth[i] = epoch + t[i] / rate;
    const r = rand();
    const jitter = r < 0.97 ? rand() * 15_000 : 100_000 + rand() * 300_000;
    arrival[i] = truth[i] + latency + jitter;
  }
  return { t, arrival, truth, latency };
}

const clock = suite('wall clock');

clock('a simulated hour at 1.05× and 0.95×: the mapping stays within 100 ms, and within 150 ms after 20 s', () => {
  for (const rate of [1.05, 0.95, 1.0]) {
    const { t, arrival, truth, latency } = simulate({ seconds: 3600, rate });
    const wall = binding.simulateWallClock(t, arrival);
    let worst = 0, worstAfter20 = 0, worstLastTen = 0;
    for (let i = 0; i < t.length; i++) {
      // The mapping gives an instant the time it arrived at best: compare with truth + the constant latency.
      const err = Math.abs(wall[i] - (truth[i] + latency)) / 1000;
      if (i > 0) assert.ok(wall[i] >= wall[i - 1], `rate ${rate}: the mapping went backwards at ${t[i] / 1e6} s`);
      worst = Math.max(worst, err);
      if (t[i] >= 20e6) worstAfter20 = Math.max(worstAfter20, err);
      if (t[i] >= 3000e6) worstLastTen = Math.max(worstLastTen, err);
    }
    assert.ok(worstAfter20 < 150, `rate ${rate}: ${worstAfter20.toFixed(1)} ms off after 20 s`);
    assert.ok(worstLastTen < 100, `rate ${rate}: ${worstLastTen.toFixed(1)} ms off in the last 10 minutes`);
    const end = t.length - 1;
    assert.ok(Math.abs(wall[end] - (truth[end] + latency)) < 100_000, `rate ${rate}: ${(wall[end] - truth[end] - latency) / 1000} ms off after an hour`);
  }
});

clock('a camera 50 ppm fast, for a simulated day: still within 100 ms', () => {
  const { t, arrival, truth, latency } = simulate({ seconds: 86_400, rate: 1.00005, perSecond: 10, seed: 7 });
  const wall = binding.simulateWallClock(t, arrival);
  let worst = 0;
  for (let i = 0; i < t.length; i++) if (t[i] >= 20e6) worst = Math.max(worst, Math.abs(wall[i] - truth[i] - latency) / 1000);
  assert.ok(worst < 100, `${worst.toFixed(1)} ms off`);
});

clock('an HLS start (three 2 s segments at once, then one as each is published) does not tilt the clock', () => {
  const per = 72, seconds = 600, n = seconds * per, epoch = 1_700_000_000_000_000;
  const t = new Float64Array(n), arrival = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    t[i] = Math.round((i * 1e6) / per);
    const segment = Math.floor(t[i] / 2e6);
    // Segment k is published when it is complete, at 2(k+1) s; the client joins when three are out.
    arrival[i] = epoch + Math.max(2 * (segment + 1), 6) * 1e6 + 50_000 + (i % 7) * 1000;
  }
  const wall = binding.simulateWallClock(t, arrival);
  let worst = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) assert.ok(wall[i] >= wall[i - 1], `the mapping went backwards at ${t[i] / 1e6} s`);
    // An instant is seen no earlier than its segment's publication: the best mapping is late by the
    // 50 ms network delay plus up to a segment; the first segments are mapped late (nothing tells yet).
    if (t[i] >= 20e6) worst = Math.max(worst, Math.abs(wall[i] - epoch - t[i]) / 1000);
  }
  assert.ok(worst < 150, `${worst.toFixed(1)} ms off real time after 20 s`);
});

clock('network stalls and congestion delay packets but do not move the clock', () => {
  const per = 72, seconds = 600, n = seconds * per, epoch = 1_700_000_000_000_000;
  const cases = {
    // Nothing for 3 s at 100 s, then the backlog at once.
    'one 3 s stall': (t) => (t >= 100e6 && t < 103e6 ? 103e6 - t : 0),
    // A 5 s stall every 30 s.
    'a 5 s stall every 30 s': (t) => (t % 30e6 < 5e6 ? 5e6 - (t % 30e6) : 0),
    // 30 s of congestion: every packet 300 ms late.
    '30 s of +300 ms congestion': (t) => (t >= 200e6 && t < 230e6 ? 300_000 : 0),
  };
  for (const [name, extra] of Object.entries(cases)) {
    const t = new Float64Array(n), arrival = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      t[i] = Math.round((i * 1e6) / per);
      arrival[i] = epoch + t[i] + 20_000 + (i % 5) * 2000 + extra(t[i]);
    }
    const wall = binding.simulateWallClock(t, arrival);
    let worst = 0;
    for (let i = 0; i < n; i++) if (t[i] >= 20e6) worst = Math.max(worst, Math.abs(wall[i] - epoch - t[i] - 20_000) / 1000);
    assert.ok(worst < 50, `${name}: ${worst.toFixed(1)} ms off`);
  }
});

clock('a live source whose clock runs 5 % fast stays within 150 ms of arrival', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'fast.mp4'), seconds: 30, gopSeconds: 1 });
  const rec = new Recorder({ source: media, readRate: 1.05, statsInterval: 0 });
  await rec.start();
  try {
    await waitFor(() => rec.stats.newest >= 12, { timeout: 20_000 * TIME_SCALE, message: 'buffer never reached 12 s' });
    const offsets = [];
    for (let i = 0; i < 20; i++) {
      const s = rec.stats;
      offsets.push(s.newestTime.getTime() - Date.now());
      await new Promise((r) => setTimeout(r, 100));
    }
    // newestTime is when the newest packet arrived (≤ now); a clock anchored once would run 50 ms/s ahead.
    const worst = Math.max(...offsets.map(Math.abs));
    assert.ok(worst < 150 * TIME_SCALE, `newestTime − now: ${offsets.join(', ')} ms`);
  } finally {
    await rec.stop();
  }
});

clock('a file read at full speed has no wall clock: null times, and wall-clock ranges are refused', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'file.mp4'), seconds: 4, gopSeconds: 1 });
  const { rec } = await recordToEnd({ source: media });
  try {
    const s = rec.stats;
    assert.is(s.oldestTime, null);
    assert.is(s.newestTime, null);
    const clip = await rec.saveLast(2, path.join(dir, 'last.mp4'));
    assert.is(clip.start, null);
    assert.is(clip.end, null);
    assert.ok(clip.timeline.end > clip.timeline.start);
    const err = await rec.saveRange({ from: Date.now() - 2000, to: Date.now() }, path.join(dir, 'wall.mp4')).catch((e) => e);
    assert.is(err.code, 'ERR_INVALID_ARG');
    assert.match(err.message, /no wall clock.*clock: 'timeline'/);
  } finally {
    await rec.stop();
  }
});

clock.run();
