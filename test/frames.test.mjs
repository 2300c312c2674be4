// grabFrame: the frame on screen at an instant, not just a frame. The test source's frames carry their
// index in their brightness (lossless H.264, so the decoded pixels are exact); the ffmpeg CLI decoding
// the same instant is the independent reference.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { makeMedia, run, tmpDir, waitFor } from './helpers/media.mjs';

const FPS = 25;
// Frame N has luma 16 + (N mod 50) × 4 (limited range): gray = (luma − 16) × 255 / 219.
const indexOf = (gray) => {
  let sum = 0;
  for (const v of gray) sum += v;
  return Math.round(((sum / gray.length) * 219) / 255 / 4);
};

async function patternSource(file, { bframes }) {
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `nullsrc=s=64x48:r=${FPS},format=yuv420p,geq=lum='16+mod(N\\,50)*4':cb=128:cr=128`,
    '-t', '6', '-c:v', 'libx264', '-qp', '0', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-bf', String(bframes), '-pix_fmt', 'yuv420p', file]);
  return file;
}

const frames = suite('grabFrame');
let dir;
frames.before(() => {
  dir = tmpDir();
});

frames('the frame on screen at an instant: every frame, between frames, around keyframes, with and without B-frames', async () => {
  for (const bframes of [0, 2, 3]) {
    const src = await patternSource(path.join(dir, `pattern-b${bframes}.mp4`), { bframes });
    const { rec } = await recordToEnd({ source: src });
    const wrong = [];
    // Frame k is shown over [k/25, (k+1)/25): probe its start, its middle and just before its end.
    for (let k = 0; k < 6 * FPS - 1; k++) {
      for (const t of [k / FPS, (k + 0.5) / FPS, (k + 1) / FPS - 0.0001]) {
        const f = await rec.grabFrame({ at: t, clock: 'timeline', format: 'gray' });
        if (indexOf(f.data) !== k % 50 || Math.abs(f.timeline - k / FPS) > 1e-6 || f.keyframe !== (k % 25 === 0))
          wrong.push(`t=${t.toFixed(4)}: frame ${indexOf(f.data)} at ${f.timeline}${f.keyframe ? ' (key)' : ''}, want ${k % 50}`);
      }
    }
    assert.equal(wrong.slice(0, 5), [], `bframes ${bframes}: ${wrong.length} wrong`);
    await rec.stop();
  }
});

frames('pixels equal the ffmpeg CLI decoding the same instant', async () => {
  const src = await patternSource(path.join(dir, 'pattern-ref.mp4'), { bframes: 2 });
  const { rec } = await recordToEnd({ source: src });
  for (const k of [0, 1, 24, 25, 26, 49, 77, 124]) {
    const ours = await rec.grabFrame({ at: k / FPS, clock: 'timeline', format: 'gray' });
    const raw = path.join(dir, `ref-${k}.gray`);
    await run('ffmpeg', ['-v', 'error', '-y', '-ss', String(k / FPS), '-i', src, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', raw]);
    const ref = fs.readFileSync(raw);
    assert.is(ours.data.length, ref.length);
    let se = 0;
    for (let i = 0; i < ref.length; i++) se += (ours.data[i] - ref[i]) ** 2;
    const psnr = se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / ref.length));
    assert.ok(psnr >= 40, `frame ${k}: PSNR ${psnr.toFixed(1)} dB`);
  }
  await rec.stop();
});

frames('latest, keyframe, formats, sizes and files', async () => {
  const src = await makeMedia({ out: path.join(dir, 'av.mp4'), seconds: 3, width: 320, height: 240, gopSeconds: 1, bframes: 2 });
  const { rec } = await recordToEnd({ source: src });
  const latest = await rec.grabFrame();
  assert.is(latest.format, 'jpeg');
  assert.equal([...latest.data.subarray(0, 2)], [0xff, 0xd8]);
  assert.equal([latest.width, latest.height], [320, 240]);
  assert.ok(Math.abs(latest.timeline - (3 - 1 / 25)) < 1e-6, `latest at ${latest.timeline}`);
  assert.is(latest.time, null); // a file read at full speed has no wall clock
  const key = await rec.grabFrame({ at: 'keyframe', format: 'png', width: 160 });
  assert.ok(key.keyframe && Math.abs(key.timeline - 2) < 1e-6, JSON.stringify({ ...key, data: undefined }));
  assert.equal([key.width, key.height], [160, 120]);
  assert.is(key.data.subarray(1, 4).toString(), 'PNG');
  const rgba = await rec.grabFrame({ at: 1.5, clock: 'timeline', format: 'rgba', height: 60 });
  assert.equal([rgba.width, rgba.height, rgba.stride, rgba.data.length], [80, 60, 320, 320 * 60]);
  const out = path.join(dir, 'still.jpg');
  const saved = await rec.grabFrame({ path: out, quality: 50 });
  assert.is(saved.path, out);
  assert.equal(fs.readFileSync(out), saved.data);
  assert.equal(fs.readdirSync(dir).filter((f) => f.includes('partial')), []);
  const worse = await rec.grabFrame({ quality: 5 });
  assert.ok(worse.data.length < saved.data.length, `quality 5: ${worse.data.length} bytes, 50: ${saved.data.length}`);
  await rec.stop();
});

frames('captureFrames: one frame per interval of the timeline, named in order; keyframes only when the interval spans a GOP', async () => {
  const src = await patternSource(path.join(dir, 'pattern-cap.mp4'), { bframes: 2 });
  for (const [every, keyOnly] of [[1, true], [0.5, false]]) {
    const { Recorder } = await import('av-rewind');
    const rec = new Recorder({ source: src, readRate: 4, statsInterval: 0 });
    await rec.start();
    const decoded0 = rec.stats.framesDecoded;
    const out = path.join(dir, `cap-${every}`);
    const cap = rec.captureFrames({ everySeconds: every, dir: out, format: 'png' });
    const got = [];
    cap.on('frame', (f) => got.push(f));
    cap.on('error', (e) => assert.unreachable(String(e)));
    await new Promise((r) => rec.once('end', r));
    await waitFor(() => got.length >= Math.round(5 / every), { message: () => `${got.length} frames` });
    await cap.stop();
    const decoded = rec.stats.framesDecoded - decoded0;
    await rec.stop();
    // Keyframes only: one decode a frame. Otherwise at most the GOP prefix up to each instant.
    if (keyOnly) assert.is(decoded, got.length, `${decoded} frames decoded for ${got.length} keyframes`);
    else assert.ok(decoded <= got.length * 25, `${decoded} decoded for ${got.length}`);
    // Instants on the grid of the timeline; each frame is the one on screen at its instant (with
    // keyframes only: the keyframe at or before it, which here is the instant itself).
    const times = got.map((f) => +f.timeline.toFixed(6));
    const first = Math.ceil(times[0] / every - 1e-9) * every;
    const want = times.map((_, i) => +(Math.floor((first + i * every) * FPS + 1e-9) / FPS).toFixed(6));
    assert.equal(times, want, `every ${every}`);
    assert.ok(first <= 1 && got.length >= Math.round(5 / every), `${times}`);
    assert.ok(got.every((f) => f.keyframe === (keyOnly || Number.isInteger(+f.timeline.toFixed(6)))), JSON.stringify(got.map((f) => [f.timeline, f.keyframe])));
    const names = fs.readdirSync(out).filter((n) => !n.endsWith('.gray'));
    assert.equal(names, got.map((f) => path.basename(f.path)).sort());
    assert.equal(got.map((f) => path.basename(f.path)), [...names].sort(), 'names sort in time order');
    for (const f of got) assert.is(indexOf(await grayOf(f.path)), Math.round(f.timeline * FPS) % 50, f.path);
  }
});

frames('frames(): the newest frame at the asked rate while the loop runs; it ends with the loop, or with the source', async () => {
  const { Recorder, syntheticSource } = await import('av-rewind');
  const rec = new Recorder({ ...syntheticSource({ width: 320, height: 240, fps: 25 }), statsInterval: 0 });
  await rec.start();
  const got = [];
  for await (const f of rec.frames({ fps: 5, width: 160 })) {
    got.push(f);
    if (got.length === 4) break;
  }
  assert.is(got.length, 4);
  // Nothing is decoded once the loop has ended.
  const after = rec.stats.framesDecoded;
  await new Promise((r) => setTimeout(r, 600));
  assert.is(rec.stats.framesDecoded, after);
  for (const f of got) assert.equal([f.format, f.width, f.height, f.data[0], f.data[1]], ['jpeg', 160, 120, 0xff, 0xd8]);
  for (let i = 1; i < got.length; i++) assert.ok(got[i].timeline > got[i - 1].timeline, got.map((f) => f.timeline).join());
  await rec.stop();
  // A source that ends: the loop gets frames, then ends by itself after the last one.
  const src = await patternSource(path.join(dir, 'pattern-iter.mp4'), { bframes: 0 });
  const ended = new Recorder({ source: src, statsInterval: 0 });
  await ended.start();
  await new Promise((r) => ended.once('end', r));
  const last = [];
  for await (const f of ended.frames({ fps: 50, format: 'gray' })) last.push(f.timeline);
  assert.equal(last, [6 - 1 / FPS]);
  await ended.stop();
});

frames("'latest' at a steady rate decodes each packet once (the recorder's decoder goes on from the last grab), and gives the right frame", async () => {
  const { Recorder } = await import('av-rewind');
  for (const bframes of [0, 2]) {
    const src = await patternSource(path.join(dir, `pattern-steady-b${bframes}.mp4`), { bframes });
    const rec = new Recorder({ source: src, readRate: 1, statsInterval: 0 });
    await rec.start();
    try {
      await waitFor(() => rec.stats.newest > 0.5);
      const d0 = rec.stats.framesDecoded, n0 = rec.stats.newest;
      let grabs = 0;
      const wrong = [];
      while (rec.stats.newest < 4.5) {
        const f = await rec.grabFrame({ format: 'gray' });
        grabs++;
        const want = Math.round(f.timeline * FPS) % 50;
        if (indexOf(f.data) !== want) wrong.push([f.timeline, indexOf(f.data), want]);
        // The newest frame (with B-frames, the newest the decoder has given: up to 2 frames earlier).
        if (f.timeline < rec.stats.newest - 3 / FPS - 0.1) wrong.push(['stale', f.timeline, rec.stats.newest]);
        await new Promise((r) => setTimeout(r, 100));
      }
      const decoded = rec.stats.framesDecoded - d0;
      const arrived = Math.round((rec.stats.newest - n0) * FPS);
      assert.equal(wrong, [], `b${bframes}: ${JSON.stringify(wrong.slice(0, 5))}`);
      assert.ok(grabs >= 20, `${grabs} grabs`);
      // Each packet decoded once, plus the GOP prefix of the first grab (decoded afresh: it is not yet
      // a steady rate). Decoding each grab's prefix afresh would be ~12 frames a grab.
      assert.ok(decoded <= arrived + FPS, `b${bframes}: ${decoded} frames decoded for ${arrived} arrived in ${grabs} grabs`);
    } finally {
      await rec.stop();
    }
  }
});

frames("'keyframe' decodes one frame", async () => {
  const src = await patternSource(path.join(dir, 'pattern-key.mp4'), { bframes: 2 });
  const { rec } = await recordToEnd({ source: src });
  const d0 = rec.stats.framesDecoded;
  const k = await rec.grabFrame({ at: 'keyframe', format: 'gray' });
  assert.is(rec.stats.framesDecoded - d0, 1);
  assert.is(k.timeline, 5);
  assert.is(indexOf(k.data), (5 * FPS) % 50);
  await rec.stop();
});

frames('captureFrames: a failed write is an error event, and capture goes on once the cause is gone', async () => {
  const { Recorder, syntheticSource } = await import('av-rewind');
  const rec = new Recorder({ ...syntheticSource({ width: 160, height: 120, fps: 25 }), statsInterval: 0 });
  await rec.start();
  const out = path.join(dir, 'cap-fail');
  try {
    const cap = rec.captureFrames({ everySeconds: 0.5, dir: out });
    const got = [], errors = [];
    cap.on('frame', (f) => got.push(f));
    cap.on('error', (e) => errors.push(e));
    await waitFor(() => got.length >= 1);
    fs.rmSync(out, { recursive: true }); // the folder goes (an unmounted disk, a cleanup script)
    await waitFor(() => errors.length >= 1, { message: 'no error event' });
    assert.is(errors[0].code, 'ERR_WRITE');
    const before = got.length;
    fs.mkdirSync(out); // and comes back
    await waitFor(() => got.length >= before + 2, { message: () => `capture did not go on: ${got.length} frames` });
    await cap.stop();
    assert.ok(fs.readdirSync(out).length >= 2);
    assert.equal(fs.readdirSync(out).filter((f) => f.includes('partial')), []);
  } finally {
    await rec.stop();
  }
});

// A PNG's pixels as gray, by the ffmpeg CLI.
async function grayOf(file) {
  await run('ffmpeg', ['-v', 'error', '-y', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', `${file}.gray`]);
  return fs.readFileSync(`${file}.gray`);
}

frames('errors: no video, an instant not buffered, bad options', async () => {
  const a = await makeMedia({ out: path.join(dir, 'a.mp4'), seconds: 2, video: false });
  const { rec: audio } = await recordToEnd({ source: a });
  const e1 = await audio.grabFrame().catch((e) => e);
  assert.instance(e1, RecorderError);
  assert.is(e1.code, 'ERR_NO_VIDEO');
  await audio.stop();
  const v = await makeMedia({ out: path.join(dir, 'v.mp4'), seconds: 2, audio: false });
  const { rec } = await recordToEnd({ source: v });
  const e2 = await rec.grabFrame({ at: 60, clock: 'timeline' }).catch((e) => e);
  assert.is(e2.code, 'ERR_RANGE_NOT_BUFFERED');
  const e3 = await rec.grabFrame({ at: new Date() }).catch((e) => e);
  assert.is(e3.code, 'ERR_INVALID_ARG'); // a file read at full speed has no wall clock
  for (const [o, re] of [[{ quality: 0 }, /quality/], [{ width: -1 }, /width/], [{ format: 'bmp' }, /format/], [{ fromat: 'png' }, /fromat/]]) {
    const e = await rec.grabFrame(o).catch((err) => err);
    assert.instance(e, RecorderError, JSON.stringify(o));
    assert.is(e.code, 'ERR_INVALID_ARG');
    assert.match(e.message, re);
  }
  await rec.stop();
});

frames.run();
