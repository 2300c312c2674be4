// The built-in synthetic live source (lavfi testsrc2 + sine, encoded once at ingest): saves in every
// container, ranges, post-roll, eviction caps, cancellation and failed saves.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { getEventListeners } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { Recorder, RecorderError, syntheticSource } from 'av-rewind';
import { TIME_SCALE, budget, checkClip, probe, tmpDir, waitFor } from './helpers/media.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const small = (o = {}) => syntheticSource({ width: 320, height: 240, fps: 25, ...o });
async function rejectsCode(promise, code) {
  const err = await promise.then(
    () => assert.unreachable(`expected ${code}`),
    (e) => e,
  );
  assert.instance(err, RecorderError, String(err));
  assert.is(err.code, code, err.message);
  return err;
}

// A save listens on its AbortSignal from when its work begins (after the argument checks), e.g. its
// wait for post-roll: wait for that rather than for a guess of how long the checks take.
const waitingOn = (signal) => waitFor(() => getEventListeners(signal, 'abort').length > 0, { message: 'the save never began' });

const live = suite('lavfi: a live recorder');
let rec, dir, startedAt, startedBy;
live.before(async () => {
  dir = tmpDir();
  rec = new Recorder({ ...small(), bufferSeconds: 60, encoder: { gopSeconds: 1 } });
  startedAt = Date.now();
  const info = await rec.start();
  startedBy = Date.now();
  assert.is(info.format, 'lavfi');
  await waitFor(() => rec.stats.bufferedSeconds >= 6, { timeout: budget(6), message: () => `buffer stayed at ${rec.stats.bufferedSeconds} s` });
});

// The wall clock the buffer maps its timeline to: the instant its first packet was buffered, which
// start() brackets. Frames are paced in real time from the first one read (at or after startedAt), so
// the newest media can run ahead of the wall clock by no more than that anchor's delay plus a frame.
const anchorOf = (s) => s.newestTime.getTime() - s.newest * 1000;
const maxLead = (s) => anchorOf(s) - startedAt + 100;
live.after(async () => {
  await rec?.stop();
});

live('info describes the encoded-once streams', () => {
  const [v, a] = rec.info.streams;
  assert.equal([v.type, v.codec, v.width, v.height, v.fps, v.encodedFrom], ['video', 'h264', 320, 240, 25, 'rawvideo']);
  assert.equal([a.type, a.codec, a.sampleRate, a.channels], ['audio', 'aac', 48000, 1]);
  assert.match(a.encodedFrom, /^pcm_/);
});

live('stats reflect a growing buffer on the wall clock', () => {
  const s = rec.stats;
  assert.is(s.state, 'recording');
  const now = Date.now();
  assert.ok(s.bufferedSeconds >= 6 && s.bytes > 0 && s.packets > 0 && s.gops >= 6, JSON.stringify(s));
  // Timeline 0 is the first packet, buffered while start() ran; newestTime follows from it. A packet is
  // complete when it arrives: the start of the first frame (40 ms at 25 fps) maps to its arrival less that.
  const anchor = anchorOf(s);
  assert.ok(anchor >= startedAt - 40 - 5 && anchor <= startedBy + 5,
    `timeline 0 at ${anchor - startedAt} ms after start() began; it resolved after ${startedBy - startedAt} ms`);
  assert.ok(s.newestTime.getTime() <= now + maxLead(s), `newestTime ${s.newestTime.getTime() - now} ms ahead of now`);
  // One clock for the whole buffer: the source runs in real time, so the oldest instant maps like the
  // newest, except for what the estimator learnt after it: the first packets arrive later than the
  // rest (the encoder's first frame takes longest), so the first instants were mapped up to about a
  // frame (40 ms) late, and keep that time.
  const skew = s.oldestTime.getTime() - s.oldest * 1000 - anchor;
  assert.ok(skew >= -5 && skew < 50, `oldestTime ${s.oldestTime.toISOString()} is ${skew} ms off the newest's mapping`);
  assert.ok(s.memory >= s.bytes);
  assert.equal(s.gaps, []);
});

live('saveLast writes mp4, mkv, ts and flv at once, each starting on a keyframe', async () => {
  const exts = ['mp4', 'mkv', 'ts', 'flv'];
  const clips = await Promise.all(exts.map((e) => rec.saveLast(4, path.join(dir, `last4.${e}`))));
  for (const [i, clip] of clips.entries()) {
    assert.is(clip.requested, 4);
    // Starts at the latest keyframe at or before the requested start: at most one GOP (1 s) more.
    assert.ok(clip.duration >= 3.9 && clip.duration <= 5.1, `${exts[i]}: duration ${clip.duration}`);
    assert.ok(clip.end.getTime() - clip.start.getTime() > 3900);
    assert.ok(clip.bytes === fs.statSync(clip.path).size);
    assert.equal(clip.streams.map((s) => s.codec), ['h264', 'aac']);
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.2 });
  }
  assert.equal(clips.map((c) => c.format), ['mp4', 'matroska', 'mpegts', 'flv']);
});

live('faststart puts the index before the media', async () => {
  const clip = await rec.saveLast(2, path.join(dir, 'fast.mp4'), { faststart: true });
  const head = fs.readFileSync(clip.path);
  assert.ok(head.indexOf('moov') < head.indexOf('mdat'), 'moov after mdat');
  const plain = fs.readFileSync((await rec.saveLast(2, path.join(dir, 'plain.mp4'))).path);
  assert.ok(plain.indexOf('moov') > plain.indexOf('mdat'));
  await checkClip(clip.path);
});

live('saveRange by wall clock and by timeline seconds', async () => {
  const now = Date.now();
  const byWall = await rec.saveRange({ from: new Date(now - 4000), to: new Date(now - 1500) }, path.join(dir, 'wall.mkv'));
  assert.ok(byWall.requested === 2.5);
  assert.ok(byWall.duration >= 2.4 && byWall.duration <= 3.6, `duration ${byWall.duration}`);
  assert.ok(byWall.start.getTime() <= now - 4000 + 50 && byWall.start.getTime() > now - 5100, `start ${byWall.start.getTime() - now}`);
  await checkClip(byWall.path, { seconds: byWall.duration, tolerance: 0.2 });

  const { newest } = rec.stats;
  const byTimeline = await rec.saveRange({ from: newest - 3, to: newest - 1, clock: 'timeline' }, path.join(dir, 'tl.mp4'));
  assert.ok(byTimeline.timeline.start <= newest - 3 && byTimeline.timeline.start > newest - 4.1);
  assert.ok(byTimeline.duration >= 1.9 && byTimeline.duration <= 3.1, `duration ${byTimeline.duration}`);
  await checkClip(byTimeline.path, { seconds: byTimeline.duration, tolerance: 0.2 });
});

live('a range that ends in the future waits for post-roll', async () => {
  const t0 = Date.now();
  const clip = await rec.saveRange({ from: t0 - 2000, to: t0 + 2000 }, path.join(dir, 'postroll.mp4'));
  const waited = Date.now() - t0;
  // The buffer reaches 'to' no sooner than its lead over the wall clock allows.
  const lead = maxLead(rec.stats);
  assert.ok(waited >= 2000 - lead, `resolved after ${waited} ms (the buffer leads by at most ${lead} ms), before the buffer reached 'to'`);
  assert.ok(clip.duration >= 3.8 && clip.duration <= 5.2, `duration ${clip.duration}`);
  assert.ok(clip.end.getTime() >= t0 + 1900);
  await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.2 });
});

live('more than is buffered gives what is there; a range outside the buffer is an error', async () => {
  // The buffer moves while the save runs (it grows, and evicts once it holds 60 s): the clip spans it
  // as it was at some instant between these two reads.
  const before = rec.stats;
  const clip = await rec.saveLast(3600, path.join(dir, 'all.ts'));
  const after = rec.stats;
  assert.is(clip.requested, 3600);
  const span = `clip ${JSON.stringify(clip.timeline)}; buffer ${before.oldest}..${before.newest} before, ${after.oldest}..${after.newest} after`;
  assert.ok(clip.timeline.start >= before.oldest && clip.timeline.start <= after.oldest, `starts at the oldest keyframe: ${span}`);
  assert.ok(clip.timeline.end >= before.newest - 0.001 && clip.timeline.end <= after.newest + 0.001, `ends at the newest packet: ${span}`);
  assert.ok(Math.abs(clip.duration - (clip.timeline.end - clip.timeline.start)) < 0.001, `duration ${clip.duration}: ${span}`);
  const now = Date.now();
  await rejectsCode(rec.saveRange({ from: now - 7200_000, to: now - 3600_000 }, path.join(dir, 'old.mp4')), 'ERR_RANGE_NOT_BUFFERED');
  assert.not.ok(fs.existsSync(path.join(dir, 'old.mp4')));
});

live('an aborted save leaves no file and recording goes on', async () => {
  const before = rec.stats.newest;
  const ac = new AbortController();
  const p = rec.saveLast(30, path.join(dir, 'aborted.mp4'), { signal: ac.signal });
  ac.abort();
  await rejectsCode(p, 'ERR_ABORTED');
  // An abort before the promise settles wins even when the write has finished meanwhile: hold the
  // main thread while the worker completes, then abort.
  const late = new AbortController();
  const l = rec.saveLast(2, path.join(dir, 'aborted-late.mp4'), { signal: late.signal });
  for (const until = Date.now() + 300 * TIME_SCALE; Date.now() < until; );
  late.abort();
  await rejectsCode(l, 'ERR_ABORTED');
  const wait = new AbortController();
  const q = rec.saveRange({ from: Date.now() - 1000, to: Date.now() + 60_000 }, path.join(dir, 'aborted2.mp4'), { signal: wait.signal });
  await waitingOn(wait.signal);
  wait.abort();
  await rejectsCode(q, 'ERR_ABORTED');
  assert.equal(fs.readdirSync(dir).filter((f) => f.includes('aborted') || f.includes('partial')), []);

  await waitFor(() => rec.stats.newest > before + 0.5, { timeout: budget(0.5), message: 'recording stopped' });
  await checkClip((await rec.saveLast(1, path.join(dir, 'after.mp4'))).path);
});

live('stop() rejects a pending post-roll wait', async () => {
  const { signal } = new AbortController(); // never aborted: it only shows when the wait has begun
  const p = rec.saveRange({ from: Date.now() - 1000, to: Date.now() + 60_000 }, path.join(dir, 'never.mp4'), { signal });
  await waitingOn(signal);
  const t0 = Date.now();
  await rec.stop();
  assert.ok(Date.now() - t0 < 1000, `stop took ${Date.now() - t0} ms`);
  await rejectsCode(p, 'ERR_STOPPED');
  assert.is(rec.state, 'stopped');
  await rejectsCode(rec.saveLast(1, path.join(dir, 'x.mp4')), 'ERR_NOT_STARTED');
  assert.is(rec.stats.bytes, 0);
});
live.run();

const caps = suite('lavfi: eviction and track layouts');
caps('eviction keeps the buffer within bufferSeconds and maxBufferBytes, a whole GOP at a time', async () => {
  const byTime = new Recorder({ ...small(), bufferSeconds: 3, encoder: { gopSeconds: 1 }, statsInterval: 0 });
  const cap = 150_000;
  const byBytes = new Recorder({ ...small({ width: 640, height: 480 }), maxBufferBytes: cap, encoder: { gopSeconds: 0.5 }, statsInterval: 0 });
  await Promise.all([byTime.start(), byBytes.start()]);
  try {
    await waitFor(() => byTime.stats.evictedPackets > 0 && byBytes.stats.evictedPackets > 0, { timeout: budget(4) });
    for (let i = 0; i < 10; i++) {
      const t = byTime.stats;
      assert.ok(t.bufferedSeconds <= 3.0001 && t.bufferedSeconds >= 1.9, `time cap: ${t.bufferedSeconds} s`);
      const b = byBytes.stats;
      assert.ok(b.bytes <= cap && b.bytes > cap / 4, `byte cap: ${b.bytes}`);
      await sleep(150);
    }
    const dir = tmpDir();
    const [c1, c2] = await Promise.all([byTime.saveLast(60, path.join(dir, 't.mp4')), byBytes.saveLast(60, path.join(dir, 'b.mp4'))]);
    assert.ok(c1.timeline.start > 0 && c1.duration <= 3.05, JSON.stringify(c1.timeline));
    await checkClip(c1.path, { seconds: c1.duration, tolerance: 0.2 });
    await checkClip(c2.path, { seconds: c2.duration, tolerance: 0.2 });
  } finally {
    await Promise.all([byTime.stop(), byBytes.stop()]);
  }
});

caps('audio-only and video-only sources; a save the muxer refuses leaves no file', async () => {
  const audio = new Recorder({ ...small({ video: false }), statsInterval: 0 });
  const video = new Recorder({ ...small({ audio: false }), encoder: { videoCodec: 'mjpeg', gopSeconds: 1 }, statsInterval: 0 });
  await Promise.all([audio.start(), video.start()]);
  try {
    assert.equal(audio.info.streams.map((s) => s.codec), ['aac']);
    assert.equal(video.info.streams.map((s) => s.codec), ['mjpeg']);
    await waitFor(() => audio.stats.bufferedSeconds > 2.5 && video.stats.bufferedSeconds > 2.5, { timeout: budget(2.5) });
    const dir = tmpDir();
    // FLV cannot carry MJPEG: the muxer refuses it after the output file was opened.
    const err = await rejectsCode(video.saveLast(2, path.join(dir, 'v.flv')), 'ERR_WRITE');
    assert.ok(err.avCode < 0 && err.avMessage.length > 0, `avCode ${err.avCode}`);
    assert.match(err.message, /flv/);
    assert.equal(fs.readdirSync(dir), [], 'a failed save left a file behind');
    const a = await audio.saveLast(2, path.join(dir, 'a.mp4'));
    const v = await video.saveLast(2, path.join(dir, 'v.mkv'));
    // Audio-only saves cut at packet granularity (every audio packet starts a "GOP").
    assert.ok(Math.abs(a.duration - 2) < 0.1, `audio ${a.duration}`);
    await checkClip(a.path, { seconds: 2, tolerance: 0.1, video: false });
    await checkClip(v.path, { seconds: 2, tolerance: 1.05, audio: false });
  } finally {
    await Promise.all([audio.stop(), video.stop()]);
  }
});
caps.run();
