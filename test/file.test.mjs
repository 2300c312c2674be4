// Files as sources: read as fast as possible or at real-time speed, B-frames, an MPEG-TS 33-bit
// timestamp wrap, and a source that ends for good while its buffer stays available.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Recorder, RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { budget, checkClip, makeMedia, tmpDir } from './helpers/media.mjs';

const files = suite('file sources');
let dir, bframes;
files.before(async () => {
  dir = tmpDir();
  bframes = await makeMedia({ out: path.join(dir, 'bframes.mp4'), seconds: 20, gopSeconds: 2, bframes: true });
});

function ended(rec) {
  return new Promise((resolve) => rec.once('end', resolve));
}

files('a file read at full speed ends; its buffer stays available to saves until stop()', async () => {
  const rec = new Recorder({ source: bframes, statsInterval: 0 });
  const end = ended(rec);
  await rec.start();
  const { error } = await end;
  assert.is(error, null);
  assert.is(rec.state, 'ended');
  const s = rec.stats;
  assert.ok(Math.abs(s.bufferedSeconds - 20) < 0.1, `buffered ${s.bufferedSeconds}`);
  assert.is(s.reconnects, 0, 'a local file does not reconnect by default');

  const clip = await rec.saveLast(5, path.join(dir, 'last5.mp4'));
  assert.ok(clip.duration >= 5 && clip.duration <= 7.05, `duration ${clip.duration}`);
  const p = await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.2 });
  // B-frames survive the remux: presentation order differs from decode order.
  const v = p.packets[0];
  assert.ok(v.some((k, i) => i > 0 && k.pts < v[i - 1].pts), 'no B-frames in the clip');

  const mid = await rec.saveRange({ from: 4, to: 9, clock: 'timeline' }, path.join(dir, 'mid.ts'));
  assert.ok(Math.abs(mid.timeline.start - 4) < 0.001, `starts at ${mid.timeline.start}`); // a keyframe every 2 s
  await checkClip(mid.path, { seconds: 5, tolerance: 0.2 });

  // Post-roll can never arrive now.
  const err = await rec.saveRange({ from: 15, to: 30, clock: 'timeline' }, path.join(dir, 'never.mp4')).catch((e) => e);
  assert.instance(err, RecorderError);
  assert.is(err.code, 'ERR_SOURCE_ENDED');
  await rec.stop();
  assert.is(rec.state, 'stopped');
});

files("readRate: 'native' reads a file in real time, like ffmpeg -re", async () => {
  const rec = new Recorder({ source: bframes, readRate: 'native', statsInterval: 0 });
  await rec.start();
  const t0 = performance.now();
  try {
    // Sampled until 2.5 s are buffered: never ahead of the wall clock since start() (a full-speed read
    // has all 20 s at once). How soon it gets there depends on the machine: that is a timeout only.
    const deadline = t0 + budget(2.5, 2);
    for (;;) {
      const s = rec.stats;
      const elapsed = (performance.now() - t0) / 1000;
      assert.ok(s.newest < elapsed + 2, `${elapsed.toFixed(2)} s after start() the buffer reached ${s.newest} s`);
      if (s.newest >= 2.5) break;
      assert.ok(performance.now() < deadline, `after ${elapsed.toFixed(2)} s the buffer reached only ${s.newest} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await rec.stop();
  }
});

files('an MPEG-TS whose timestamps wrap at 2^33 stays on one continuous timeline', async () => {
  const wrap = path.join(dir, 'wrap.ts');
  // 2^33 / 90 kHz = 95443.7 s: start 6 s before the wrap.
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', bframes, '-c', 'copy', '-output_ts_offset', '95437.7', '-f', 'mpegts', wrap], { timeout: budget(0, 60) });
  const raw = execFileSync('ffprobe', ['-v', 'error', '-correct_ts_overflow', '0', '-select_streams', 'v', '-show_entries', 'packet=dts', '-of', 'compact', wrap], { encoding: 'utf8', timeout: budget(0, 60) })
    .match(/dts=\d+/g).map((m) => Number(m.slice(4)));
  assert.ok(raw[0] > 2 ** 33 - 10 * 90000 && raw.some((d, i) => i > 0 && d < raw[i - 1] - 2 ** 32), 'the test file does not wrap');

  // Once with libavformat's own wrap correction, once without it (then the timeline must mend it).
  for (const inputOptions of [{}, { correct_ts_overflow: 0 }]) {
    const rec = new Recorder({ source: wrap, inputOptions, statsInterval: 0 });
    const end = ended(rec);
    await rec.start();
    await end;
    const s = rec.stats;
    assert.ok(Math.abs(s.bufferedSeconds - 20) < 0.2, `buffered ${s.bufferedSeconds} s`);
    assert.equal(s.gaps, []);
    const clip = await rec.saveRange({ from: 2, to: 12, clock: 'timeline' }, path.join(dir, 'across-wrap.mp4'));
    await checkClip(clip.path, { seconds: 10, tolerance: 0.2 });
    await rec.stop();
  }
});
files("stop() from an 'end' listener: one 'close', and a restart begins with an empty buffer", async () => {
  const rec = new Recorder({ source: bframes, statsInterval: 0 });
  let closes = 0;
  rec.on('close', () => closes++);
  const stopped = new Promise((resolve) => rec.once('end', () => resolve(Promise.all([rec.stop(), rec.stop()]))));
  await rec.start();
  await stopped;
  await new Promise((r) => setTimeout(r, 100));
  assert.is(closes, 1);
  assert.is(rec.state, 'stopped');
  const end = ended(rec);
  await rec.start();
  await end;
  assert.ok(Math.abs(rec.stats.bufferedSeconds - 20) < 0.1, `buffered ${rec.stats.bufferedSeconds}`);
  await rec.stop();
  assert.is(closes, 2);
});

files('a GOP longer than the buffer: the newest GOP is kept whole, and a warning says why', async () => {
  // Keyframes at 0, 8 and 16 s; a 3 s buffer cannot hold one GOP.
  const longGop = await makeMedia({ out: path.join(dir, 'long-gop.mp4'), seconds: 20, gopSeconds: 8, audio: false });
  const warnings = [];
  const { rec } = await recordToEnd({ source: longGop, bufferSeconds: 3 }, (r) => r.on('warning', (w) => warnings.push(w)));
  const s = rec.stats;
  assert.ok(Math.abs(s.oldest - 16) < 0.001 && Math.abs(s.bufferedSeconds - 4) < 0.05, `buffer ${s.oldest} + ${s.bufferedSeconds} s`);
  assert.is(s.gops, 1);
  assert.ok(warnings.length >= 1 && warnings.every((w) => w.code === 'WARN_LONG_GOP'), JSON.stringify(warnings));
  assert.match(warnings[0].message, /keyframe interval is longer than the buffer/);
  const clip = await rec.saveLast(2, path.join(dir, 'long-gop.mp4.mp4'));
  assert.is(clip.timeline.start, 16);
  await checkClip(clip.path, { seconds: 4, tolerance: 0.05, audio: false });
  await rec.stop();

  // One keyframe in 20 s, a 300 kB cap: the whole stream is one GOP, kept (and warned about once).
  const oneGop = await makeMedia({ out: path.join(dir, 'one-gop.mp4'), seconds: 20, gopSeconds: 1000, audio: false, bitrate: '800k' });
  const told = [];
  const { rec: one } = await recordToEnd({ source: oneGop, maxBufferBytes: 300_000 }, (r) => r.on('warning', (w) => told.push(w)));
  assert.ok(Math.abs(one.stats.bufferedSeconds - 20) < 0.05 && one.stats.bytes > 300_000, JSON.stringify(one.stats));
  assert.is(told.length, 1);
  const whole = await one.saveLast(1, path.join(dir, 'one-gop-last.mp4'));
  assert.is(whole.timeline.start, 0);
  await one.stop();
});
files.run();
