// The audio meter and onSpike, on audio made at test time (helpers/audio.mjs): flite speech and a
// synthesized melody in sections of different overall loudness, loud bursts at known offsets, and decoys
// (a crescendo, a sustained chord, a lasting jump in level) that must not count.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { Recorder, RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { RATE, burst, encode, loop, mix, music, scale, speech } from './helpers/audio.mjs';
import { budget, checkClip, makeMedia, packetList, run, tmpDir, waitFor, within } from './helpers/media.mjs';

const gain = (db) => 10 ** (db / 20);
const WINDOW = 0.05;
// AAC's encoder delay: the decoded audio (and so the timeline) starts 1024 samples before the signal.
const PRIMING = 1024 / RATE;

const spikes = suite('spikes and levels');
let dir, sp, program;
spikes.before(async () => {
  dir = tmpDir();
  sp = await speech(dir);
  // 0–30 s speech (peaks about −18 dBFS) · 30–60 s music 4 dB louder · 60–90 s speech 18 dB quieter ·
  // 90–105 s a crescendo of music from −36 to −14 dBFS · 105–120 s a sustained chord · 120–140 s quiet
  // speech · 140–160 s the same speech 22 dB louder (a lasting change, not an event).
  const x = new Float32Array(160 * RATE);
  mix(x, loop(sp, 30), 0, gain(-16));
  mix(x, music(30, 2), 30, gain(-10));
  mix(x, loop(sp, 30), 60, gain(-34));
  const cresc = music(15, 3);
  for (let i = 0; i < cresc.length; i++) cresc[i] *= gain(-33 + (22 * i) / cresc.length);
  mix(x, cresc, 90);
  for (let i = 0; i < 15 * RATE; i++) {
    const t = i / RATE;
    x[105 * RATE + i] += 0.07 * (Math.sin(2 * Math.PI * 220 * t) + Math.sin(2 * Math.PI * 277.2 * t) + Math.sin(2 * Math.PI * 329.6 * t));
  }
  mix(x, loop(sp, 40), 120, gain(-34));
  scale(x, 140, 160, 22);
  // Bursts 16 dB over each section's peaks (the music's is clipped at full scale: about +13 dB).
  const bursts = [[10, -2.5], [45, 0], [75, -20.5]];
  bursts.forEach(([t, db], i) => mix(x, burst(gain(db), 7 + i), t));
  program = { file: await encode(x, path.join(dir, 'program.ts')), bursts: bursts.map(([t]) => t) };
});

spikes('every burst is found, in every section, within one window; nothing in speech, music or decoys', async () => {
  const found = [];
  // Read at full speed: the meter falls behind its queue and catches up from the buffer; attached before
  // start(), every window counts, and every spike comes before 'end'.
  const rec = new Recorder({ source: program.file, statsInterval: 0, bufferSeconds: 600 });
  rec.onSpike((s) => found.push(s)); // before start(): the meter runs from the first packet
  const ended = new Promise((r) => rec.once('end', r));
  await rec.start();
  await within(ended, budget(16), 'the source never ended');
  const at = found.map((s) => s.timeline.toFixed(3));
  for (const t of program.bursts) {
    const s = found.find((f) => Math.abs(f.timeline - (t + PRIMING)) <= WINDOW);
    assert.ok(s, `no spike for the burst at ${t} s (spikes at ${at})`);
    assert.ok(s.peakDb > s.baselineDb + 10, JSON.stringify(s));
    assert.ok(s.time === null || s.time instanceof Date);
  }
  const others = found.filter((f) => !program.bursts.some((t) => Math.abs(f.timeline - (t + PRIMING)) <= WINDOW));
  // The lasting jump at 140 s may count once (it is sudden); nothing else may.
  const elsewhere = others.filter((f) => !(f.timeline >= 140 && f.timeline < 141.5));
  assert.equal(elsewhere.map((f) => f.timeline), [], `spikes outside the bursts: ${at}`);
  assert.ok(others.length <= 1, `spikes at ${at}`);
  await rec.stop();
});

spikes('levels match ffmpeg astats on the same audio, window by window, within 0.5 dB', async () => {
  const { rec } = await recordToEnd({ source: program.file, bufferSeconds: 600, meter: true });
  await waitFor(() => {
    const l = rec.levels({ from: 0, to: 1000, clock: 'timeline' });
    return l.peakDb.length > 0 && !Number.isNaN(l.peakDb[l.peakDb.length - 2]);
  }, { message: () => {
    const l = rec.levels({ from: 0, to: 1000, clock: 'timeline' });
    const nan = l.peakDb.filter(Number.isNaN).length;
    return `levels never covered the buffer: ${l.peakDb.length} windows ${l.start}..${l.end}, ${nan} missing, first missing at ${l.peakDb.findIndex(Number.isNaN)}`;
  } });
  const l = rec.levels({ from: 0, to: 1000, clock: 'timeline' });
  assert.is(l.window, WINDOW);
  assert.is(l.start, 0);
  const { out } = await run('ffmpeg', ['-v', 'error', '-i', program.file, '-af', `asetnsamples=n=${WINDOW * RATE}:p=0,astats=metadata=1:reset=1,ametadata=print:file=-`, '-f', 'null', '-']);
  const frames = out.split('frame:').slice(1).map((b) => {
    const g = (k) => Number(new RegExp(`${k.replace(/\./g, '\\.')}=(-?[\\d.]+|-inf)`).exec(b)?.[1].replace('-inf', '-Infinity'));
    return { peak: g('lavfi.astats.Overall.Peak_level'), rms: Math.max(g('lavfi.astats.1.RMS_level'), g('lavfi.astats.2.RMS_level')) };
  });
  assert.ok(frames.length > 3000 && Math.abs(frames.length - l.peakDb.length) <= 2, `${frames.length} astats windows, ${l.peakDb.length} ours`);
  let compared = 0, worst = 0;
  for (let i = 0; i < Math.min(frames.length, l.peakDb.length) - 1; i++) {
    const a = frames[i];
    if (!(a.peak > -100)) continue; // digital silence: -inf there, our floor here
    worst = Math.max(worst, Math.abs(a.peak - l.peakDb[i]), Math.abs(a.rms - l.rmsDb[i]));
    compared++;
  }
  assert.ok(compared > 3000, `${compared} windows compared`);
  assert.ok(worst <= 0.5, `worst difference ${worst} dB`);
  // { last } is the newest part of the same envelope.
  const last = rec.levels({ last: 10 });
  assert.ok(Math.abs(last.end - l.end) <= WINDOW && last.peakDb.length >= 199 && last.peakDb.length <= 201, `${last.start}..${last.end}`);
  await rec.stop();
});

spikes('minGapSeconds: bursts 4 s apart are one spike with the default, two with minGapSeconds 3', async () => {
  const x = loop(sp, 20);
  scale(x, 0, 20, -16);
  mix(x, burst(gain(-2.5), 1), 6);
  mix(x, burst(gain(-2.5), 2), 10);
  const file = await encode(x, path.join(dir, 'gap.ts'));
  const rec = new Recorder({ source: file, readRate: 5, statsInterval: 0 });
  const def = [], short = [];
  rec.onSpike((s) => def.push(s.timeline));
  rec.onSpike((s) => short.push(s.timeline), { minGapSeconds: 3 });
  const off = rec.onSpike(() => assert.unreachable('a detached handler was called'));
  off();
  const ended = new Promise((r) => rec.once('end', r));
  await rec.start();
  await within(ended, budget(4), 'the source never ended');
  await new Promise((r) => setTimeout(r, 200));
  assert.is(def.length, 1, `default: ${def}`);
  assert.is(short.length, 2, `minGapSeconds 3: ${short}`);
  await rec.stop();
});

spikes('clipDir: each spike saves [t − preRoll, t + postRoll], equal to the same range saved later', async () => {
  const x = loop(sp, 16);
  scale(x, 0, 16, -16);
  mix(x, burst(gain(-2.5), 3), 6);
  const file = await encode(x, path.join(dir, 'clip.ts'), { video: true });
  const clipDir = path.join(dir, 'video_chunks');
  const rec = new Recorder({ source: file, readRate: 4, statsInterval: 0 });
  const clips = [];
  rec.on('clip', (c) => clips.push(c));
  rec.onSpike(() => {}, { preRoll: 2, postRoll: 3, clipDir });
  const ended = new Promise((r) => rec.once('end', r));
  await rec.start();
  await within(ended, budget(6), 'the source never ended');
  await waitFor(() => clips.length === 1, { message: 'no clip' });
  const [{ spike, clip }] = clips;
  assert.ok(Math.abs(spike.timeline - (6 + PRIMING)) <= WINDOW, `spike at ${spike.timeline}`);
  assert.ok(path.dirname(clip.path) === clipDir && /^spike-.*\.mp4$/.test(path.basename(clip.path)) && !path.basename(clip.path).includes(':'), clip.path);
  // From the keyframe at or before t − 2 (1 s GOPs), to t + 3 (within a frame).
  assert.ok(clip.timeline.start <= spike.timeline - 2 && clip.timeline.start > spike.timeline - 3.01, JSON.stringify(clip.timeline));
  assert.ok(Math.abs(clip.timeline.end - (spike.timeline + 3)) <= 0.11, JSON.stringify(clip.timeline));
  assert.is(clip.truncated, false);
  await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.05 });
  const later = await rec.saveRange({ from: spike.timeline - 2, to: spike.timeline + 3, clock: 'timeline' }, path.join(dir, 'later.mp4'));
  assert.equal(await packetList(clip.path), await packetList(later.path));
  await rec.stop();
});

spikes('stop() during a spike clip\'s post-roll saves what there is, marked truncated', async () => {
  const x = loop(sp, 30);
  scale(x, 0, 30, -16);
  mix(x, burst(gain(-2.5), 4), 4);
  const file = await encode(x, path.join(dir, 'trunc.ts'), { video: true });
  const rec = new Recorder({ source: file, readRate: 'native', statsInterval: 0 });
  const clip = new Promise((resolve) => rec.once('clip', resolve));
  let spiked;
  const spike = new Promise((resolve) => (spiked = resolve));
  rec.onSpike(spiked, { preRoll: 1, postRoll: 20, clipDir: path.join(dir, 'trunc') });
  await rec.start();
  const s = await within(spike, budget(8), 'no spike');
  await new Promise((r) => setTimeout(r, 1000)); // a second into the 20 s post-roll
  await rec.stop();
  const c = await within(clip, budget(2), 'no clip after stop()');
  assert.is(c.clip.truncated, true);
  assert.ok(c.clip.timeline.end < s.timeline + 20 && c.clip.timeline.end > s.timeline, JSON.stringify(c.clip.timeline));
  await checkClip(c.clip.path, { seconds: c.clip.duration, tolerance: 0.05 });
});

spikes('a handler keeps working across runs: start() after stop() finds the same spike again', async () => {
  const x = loop(sp, 10);
  scale(x, 0, 10, -16);
  mix(x, burst(gain(-2.5), 8), 5);
  const file = await encode(x, path.join(dir, 'runs.ts'));
  const rec = new Recorder({ source: file, statsInterval: 0 });
  const found = [];
  rec.onSpike((s) => found.push(s.timeline));
  for (let run = 0; run < 2; run++) {
    const ended = new Promise((r) => rec.once('end', r));
    await rec.start();
    await within(ended, budget(4), 'the source never ended');
    await rec.stop();
  }
  assert.is(found.length, 2, `spikes at ${found}`);
  for (const t of found) assert.ok(Math.abs(t - (5 + PRIMING)) <= WINDOW, `spikes at ${found}`);
});

spikes('a clip that fails emits error with its spike, and recording goes on', async () => {
  const x = loop(sp, 10);
  scale(x, 0, 10, -16);
  mix(x, burst(gain(-2.5), 6), 5);
  const file = await encode(x, path.join(dir, 'fail.ts'), { video: true });
  const rec = new Recorder({ source: file, statsInterval: 0 });
  const errors = [];
  rec.on('error', (e) => errors.push(e));
  // A name in a folder that does not exist: the save is refused.
  rec.onSpike(() => {}, { preRoll: 1, postRoll: 1, clipDir: path.join(dir, 'fail'), clipName: () => 'missing/x.mp4' });
  const ended = new Promise((r) => rec.once('end', r));
  await rec.start();
  await within(ended, budget(4), 'the source never ended');
  await waitFor(() => errors.length === 1, { message: 'no error' });
  assert.instance(errors[0], RecorderError);
  assert.ok(Math.abs(errors[0].spike.timeline - (5 + PRIMING)) <= WINDOW, JSON.stringify(errors[0].spike));
  assert.ok(rec.stats.bufferedSeconds > 9, 'recording went on');
  await rec.stop();
});

spikes('a spike handler attached before start() on a source without audio gets ERR_NO_AUDIO as an error', async () => {
  const v = await makeMedia({ out: path.join(dir, 'v0.mp4'), seconds: 2, audio: false });
  const rec = new Recorder({ source: v, statsInterval: 0 });
  const errors = [];
  rec.on('error', (e) => errors.push(e));
  rec.onSpike(() => {});
  await rec.start();
  assert.is(errors.length, 1);
  assert.is(errors[0].code, 'ERR_NO_AUDIO');
  await rec.stop();
});

spikes('no audio: onSpike and levels() refuse with ERR_NO_AUDIO; bad options are named', async () => {
  const v = await makeMedia({ out: path.join(dir, 'v.mp4'), seconds: 2, audio: false });
  const { rec } = await recordToEnd({ source: v });
  for (const call of [() => rec.onSpike(() => {}), () => rec.levels({ last: 1 })]) {
    let err;
    try {
      call();
    } catch (e) {
      err = e;
    }
    assert.instance(err, RecorderError);
    assert.is(err.code, 'ERR_NO_AUDIO');
  }
  await rec.stop();
  const r = new Recorder({ source: v });
  const bad = [
    [{ riseDb: -3 }, /riseDb/],
    [{ minGapSeconds: -1 }, /minGapSeconds/],
    [{ preroll: 5 }, /preroll/],
    [{ clipName: 'x' }, /clipName/],
  ];
  for (const [o, re] of bad) {
    let err;
    try {
      r.onSpike(() => {}, o);
    } catch (e) {
      err = e;
    }
    assert.instance(err, RecorderError, JSON.stringify(o));
    assert.is(err.code, 'ERR_INVALID_ARG');
    assert.match(err.message, re);
  }
  assert.ok(!fs.existsSync(path.join(dir, 'nothing')));
});

spikes.run();
