// Races and lifetimes, and options that could not work: a save accepted while recording completes even
// if stop() follows in the same tick; ended recorders their user lets go of are collected; every numeric
// option has a documented range, refused outside and honoured inside.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Recorder, RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { checkClip, makeMedia, tmpDir, waitFor, budget } from './helpers/media.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');

const hard = suite('hardening');
let dir, media;
hard.before(async () => {
  dir = tmpDir();
  media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 4, gopSeconds: 1 });
});

const ended = (rec) => new Promise((resolve) => rec.once('end', resolve));

hard('saveLast() then stop() in the same tick: the save completes with the packets it was given', async () => {
  for (let i = 0; i < 8; i++) {
    const rec = new Recorder({ source: media, readRate: 'native', statsInterval: 0 });
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds >= 1, { timeout: budget(1) });
    const newest = rec.stats.newest;
    const saving = rec.saveLast(1, path.join(dir, `race-${i}.mp4`));
    const stopping = rec.stop();
    const [clip] = await Promise.all([saving, stopping]);
    assert.ok(clip.timeline.end <= newest + 0.2, `iteration ${i}: the save took packets buffered after the call`);
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.002 });
  }
});

hard('ended recorders that are dropped without stop() are collected', async () => {
  let collected = 0;
  const registry = new FinalizationRegistry(() => collected++);
  const count = 12;
  await (async () => {
    for (let i = 0; i < count; i++) {
      const rec = new Recorder({ source: media, statsInterval: i % 2 ? 0 : 1 });
      registry.register(rec, i);
      const end = ended(rec);
      await rec.start();
      await end;
    }
  })();
  await waitFor(async () => {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    return collected === count;
  }, { timeout: budget(5), message: () => `${collected} of ${count} collected` });
});

hard('stop() gives the buffer back while the Recorder is still referenced: start/stop cycles stay flat', async () => {
  // ASan keeps freed memory in quarantine, so RSS says nothing there.
  if (process.env.AV_REWIND_BINDING?.includes('asan')) return;
  const big = await makeMedia({ out: path.join(dir, 'big.mp4'), seconds: 4, width: 640, height: 480, gopSeconds: 1, bitrate: '12M' });
  const kept = []; // referenced to the end: no garbage collection can be what frees the buffers
  let held = 0;
  const cycle = async () => {
    const { rec } = await recordToEnd({ source: big, bufferSeconds: 60 });
    held = rec.stats.bytes;
    await rec.stop();
    kept.push(rec);
  };
  for (let i = 0; i < 3; i++) await cycle();
  await new Promise((r) => setTimeout(r, 200));
  const base = process.memoryUsage().rss;
  const cycles = 20;
  for (let i = 0; i < cycles; i++) await cycle();
  await new Promise((r) => setTimeout(r, 200));
  const grown = process.memoryUsage().rss - base;
  assert.ok(held > 2e6, `buffer ${held} bytes`);
  // Holding every buffer would be cycles × held (over 40 MB); allow two buffers of slack.
  assert.ok(grown < 2 * held, `RSS grew ${(grown / 1e6).toFixed(1)} MB over ${cycles} cycles of a ${(held / 1e6).toFixed(1)} MB buffer`);
  assert.is(kept.length, cycles + 3);
});

hard('numeric options outside their documented range are refused, naming the range', () => {
  const bad = [
    [{ maxBufferBytes: 2 ** 64 }, /from 1 to 281474976710656 for 'maxBufferBytes'/],
    [{ maxBufferBytes: 1e300 }, /for 'maxBufferBytes'/],
    [{ bufferSeconds: 1e-9 }, /seconds from 0\.1 to 604800 for 'bufferSeconds'/],
    [{ statsInterval: 1e7 }, /from 0\.01 to 86400 for 'statsInterval'/],
    [{ reconnect: { delay: 1e10 } }, /from 0\.01 to 3600 for 'reconnect\.delay'/],
    [{ readRate: 0.001 }, /from 0\.01 to 100 for 'readRate'/],
    [{ stallTimeout: 0.01 }, /from 0\.1 to 3600 for 'stallTimeout'/],
    [{ encoder: { videoBitrate: 1e300 } }, /for 'encoder\.videoBitrate'/],
    [{ source: 'rtsp://cam\0/x' }, /without NUL characters for 'source'/],
    [{ inputOptions: { rtsp_transport: 'tcp\0' } }, /without NUL characters for 'inputOptions\.rtsp_transport'/],
  ];
  for (const [opts, re] of bad) {
    let err;
    try {
      new Recorder({ source: media, ...opts });
    } catch (e) {
      err = e;
    }
    assert.instance(err, RecorderError, JSON.stringify(opts));
    assert.is(err.code, 'ERR_INVALID_ARG');
    assert.match(err.message, re);
  }
  // The ends of each range are accepted.
  for (const opts of [{ maxBufferBytes: 1 }, { maxBufferBytes: 2 ** 48 }, { bufferSeconds: 0.1 }, { statsInterval: 86400 },
    { readRate: 0.01 }, { readRate: 100 }, { stallTimeout: 0.1 }, { reconnect: { delay: 3600, maxDelay: 86400 } }]) {
    new Recorder({ source: media, ...opts });
  }
});

hard('values inside the ranges are honoured: a 1-byte buffer keeps the newest GOP, readRate 0.05 paces', async () => {
  const { rec: tiny } = await recordToEnd({ source: media, maxBufferBytes: 1 });
  const s = tiny.stats;
  assert.is(s.gops, 1);
  assert.ok(Math.abs(s.bufferedSeconds - 1) < 0.05, `buffered ${s.bufferedSeconds} s`);
  await checkClip((await tiny.saveLast(1, path.join(dir, 'tiny.mp4'))).path, { seconds: 1, tolerance: 0.05 });
  await tiny.stop();

  const slow = new Recorder({ source: media, readRate: 0.05, statsInterval: 0 });
  const t0 = Date.now();
  await slow.start();
  await new Promise((r) => setTimeout(r, 1000));
  const media_s = slow.stats.newest;
  const real = (Date.now() - t0) / 1000;
  // At 0.05× real time, a second of reading is 0.05 s of media (plus the first packets read at once).
  assert.ok(media_s <= 0.05 * real + 0.15, `read ${media_s} s of media in ${real} s`);
  await slow.stop();
});

hard("a bad value for a generic input option names the option", async () => {
  const rec = new Recorder({ source: media, inputOptions: { probesize: 'abc' } });
  const err = await rec.start().catch((e) => e);
  assert.instance(err, RecorderError);
  assert.is(err.code, 'ERR_INVALID_ARG');
  assert.match(err.message, /inputOptions\.probesize = 'abc'/);
  assert.ok(err.avCode < 0);
  await rec.stop();
});

hard.run();
