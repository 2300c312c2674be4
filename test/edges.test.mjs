// Exact clip edges: a save made during post-roll writes the same packets as the same range saved later;
// clip tails are contiguous in presentation order with audio ending with the video; the result says
// exactly what the file holds; paths with ':' are files; HEVC in mp4 is tagged hvc1.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { Recorder } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { checkClip, decodeErrors, makeMedia, packetList, probe, tmpDir, waitFor, within, TIME_SCALE } from './helpers/media.mjs';

const AUDIO_FRAME = 1024 / 48000; // one AAC frame at 48 kHz
const FRAME = 1 / 25;
let dir, pyramid;

const edges = suite('clip edges');
edges.before(async () => {
  dir = tmpDir();
  // 25 fps, keyframe every 2 s, 3 B-frames (x264 then builds a B-pyramid), AAC 48 kHz.
  pyramid = await makeMedia({ out: path.join(dir, 'pyramid.mp4'), seconds: 20, gopSeconds: 2, bframes: 3 });
});

edges('a save during post-roll and the same range saved later write identical packets', async () => {
  const rec = new Recorder({ source: pyramid, readRate: 'native', statsInterval: 0 });
  await rec.start();
  try {
    await waitFor(() => rec.stats.newest >= 1, { timeout: 10_000 * TIME_SCALE, message: 'buffer never reached 1 s' });
    const now = rec.stats.newest;
    // Ends at several fractional positions (between frames, on a frame, just past a keyframe), all still to come.
    const ranges = [0.5, 1.0, 1.37, 2.01, 2.5].map((d, i) => ({ from: Math.max(0, now - 0.7 + i * 0.1), to: now + d }));
    const during = await Promise.all(ranges.map((r, i) =>
      rec.saveRange({ ...r, clock: 'timeline' }, path.join(dir, `during-${i}.mp4`))));
    for (const [i, c] of during.entries()) assert.ok(c.timeline.end >= ranges[i].to, `clip ${i} ends at ${c.timeline.end} before ${ranges[i].to}`);
    // And by wall clock: the Date of an instant to come.
    const wallTo = new Date(Date.now() + 1200);
    const wallFrom = new Date(Date.now() - 500);
    const duringWall = await rec.saveRange({ from: wallFrom, to: wallTo }, path.join(dir, 'during-wall.mkv'));

    const last = Math.max(...ranges.map((r) => r.to));
    await waitFor(() => rec.stats.newest >= last + 3, { timeout: 15_000 * TIME_SCALE, message: 'buffer never passed the ranges' });
    const later = await Promise.all(ranges.map((r, i) =>
      rec.saveRange({ ...r, clock: 'timeline' }, path.join(dir, `later-${i}.mp4`))));
    const laterWall = await rec.saveRange({ from: wallFrom, to: wallTo }, path.join(dir, 'later-wall.mkv'));
    for (const [i, [a, b]] of [...during.map((d, i) => [d, later[i]]), [duringWall, laterWall]].entries()) {
      assert.equal([a.packets, a.duration, a.timeline], [b.packets, b.duration, b.timeline], `range ${i}`);
      assert.equal(await packetList(a.path), await packetList(b.path), `range ${i}: the packets differ`);
    }
  } finally {
    await rec.stop();
  }
});

edges('clip tails are contiguous, audio ends with the video, and the result is what the file holds', async () => {
  const { rec } = await recordToEnd({ source: pyramid });
  try {
    for (const to of [2.5, 3.01, 5.55, 7.77, 9.99, 12.0, 16.13]) {
      for (const ext of ['mp4', 'mkv', 'ts']) {
        const clip = await rec.saveRange({ from: to - 2.3, to, clock: 'timeline' }, path.join(dir, `tail-${to}.${ext}`));
        const where = `${ext}, to ${to}`;
        const p = await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.001 + (ext === 'mkv' ? 0.001 : 0) });
        assert.ok(Math.abs(clip.timeline.end - clip.timeline.start - clip.duration) < 1e-6, where);
        const video = p.streams.find((s) => s.codec_type === 'video');
        const audio = p.streams.find((s) => s.codec_type === 'audio');
        const v = p.packets[video.index].map((k) => k.pts).sort((a, b) => a - b);
        const a = p.packets[audio.index].map((k) => k.pts).sort((a, b) => a - b);
        const t0 = v[0];
        // Every frame shown from the keyframe to the end, one frame apart: no jump at the tail.
        for (let i = 1; i < v.length; i++) assert.ok(Math.abs(v[i] - v[i - 1] - FRAME) < 0.002, `${where}: video jumps ${v[i - 1]} -> ${v[i]}`);
        const videoEnd = v.at(-1) + FRAME - t0;
        // Every frame presented before `to` is in the clip, and nothing past the frames they need.
        assert.ok(videoEnd >= to - clip.timeline.start - 1e-6, `${where}: video ends at ${videoEnd}`);
        assert.ok(videoEnd <= to - clip.timeline.start + 4 * FRAME, `${where}: video runs on to ${videoEnd}`);
        const audioEnd = a.at(-1) + AUDIO_FRAME - t0;
        assert.ok(audioEnd > videoEnd - 1e-6 && audioEnd <= videoEnd + AUDIO_FRAME + 1e-6, `${where}: audio ends at ${audioEnd}, video at ${videoEnd}`);
        assert.ok(a[0] - t0 >= -1e-6 && a[0] - t0 < AUDIO_FRAME, `${where}: audio starts at ${a[0] - t0}`);
        assert.ok(Math.abs(clip.duration - Math.max(videoEnd, audioEnd)) < 1e-3, `${where}: result ${clip.duration}, file ${Math.max(videoEnd, audioEnd)}`);
      }
    }
  } finally {
    await rec.stop();
  }
});

edges('a clip ending in the last frames of a connection is final once the connection is gone', async () => {
  // Ended: ranges up to the very end of the file save (the last B-frames and audio decode before `to`).
  const { rec } = await recordToEnd({ source: pyramid });
  for (const to of [20, 19.99, 19.95, 19.9]) {
    const clip = await rec.saveRange({ from: to - 3, to, clock: 'timeline' }, path.join(dir, `end-${to}.mp4`));
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.001 });
  }
  await rec.stop();

  // Reconnecting (the next attempt an hour away): the tail of the last connection saves at once.
  const again = new Recorder({ source: pyramid, reconnect: { delay: 3600 }, statsInterval: 0 });
  const reconnecting = new Promise((r) => again.once('reconnecting', r));
  await again.start();
  await reconnecting;
  try {
    const to = again.stats.newest - 0.05;
    const clip = await within(again.saveRange({ from: to - 2, to, clock: 'timeline' }, path.join(dir, 'reconnecting.mp4')),
      10_000 * TIME_SCALE, 'a save of the last connection\'s tail while reconnecting');
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.001 });
  } finally {
    await again.stop();
  }
});

edges("relative paths with ':' are file paths, for saves (faststart too) and for sources", async () => {
  const { rec } = await recordToEnd({ source: pyramid });
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const a = await rec.saveLast(2, 'cam1-2024-05-01T12:00:00.mp4');
    assert.is(a.path, 'cam1-2024-05-01T12:00:00.mp4');
    await checkClip(path.join(dir, a.path), { seconds: a.duration, tolerance: 0.001 });
    const b = await rec.saveLast(2, 'cam1-2024-05-01T12:00:01.mp4', { faststart: true });
    const head = fs.readFileSync(path.join(dir, b.path));
    assert.ok(head.indexOf('moov') < head.indexOf('mdat'), 'faststart did not move the index');
    for (const ext of ['mkv', 'ts', 'flv']) await rec.saveLast(1, `cam1-12:00:00.${ext}`);
    fs.copyFileSync(pyramid, path.join(dir, 'src-12:00:00.mp4'));
    const { rec: fromColon } = await recordToEnd({ source: 'src-12:00:00.mp4' });
    assert.ok(Math.abs(fromColon.stats.bufferedSeconds - 20) < 0.1);
    await fromColon.stop();
  } finally {
    process.chdir(cwd);
    await rec.stop();
  }
  assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('.')), [], 'temporary files left behind');
});

edges('HEVC in mp4/mov is tagged hvc1 and decodes, from mp4 (hvcC) and MPEG-TS (Annex B) sources', async () => {
  const hevc = await makeMedia({ out: path.join(dir, 'hevc.mp4'), seconds: 4, gopSeconds: 1, codec: 'libx265' });
  const hevcTs = path.join(dir, 'hevc.ts');
  await makeMedia({ out: hevcTs, seconds: 4, gopSeconds: 1, codec: 'libx265' });
  for (const source of [hevc, hevcTs]) {
    const { rec, info } = await recordToEnd({ source });
    assert.is(info.streams[0].codec, 'hevc');
    for (const ext of ['mp4', 'mov']) {
      const clip = await rec.saveLast(2, path.join(dir, `hevc-${path.extname(source).slice(1)}.${ext}`));
      const p = await probe(clip.path);
      const v = p.streams.find((s) => s.codec_type === 'video');
      assert.is(v.codec_name, 'hevc');
      assert.is(v.codec_tag_string, 'hvc1', `${source} → ${ext}`);
      assert.is(await decodeErrors(clip.path), '');
    }
    // Other containers keep their own tags.
    const mkv = await rec.saveLast(2, path.join(dir, `hevc-${path.extname(source).slice(1)}.mkv`));
    await checkClip(mkv.path, { seconds: mkv.duration, tolerance: 0.002 });
    await rec.stop();
  }
});

edges.run();
