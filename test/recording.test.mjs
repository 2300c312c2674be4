// Continuous recording: a lavfi "camera" (raw video at a real-time rate, encoded once at ingest) recorded
// to disk in short segments; checked with ffprobe, after a SIGKILL, and under each retention rule.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { footage, Recorder, syntheticSource } from 'av-rewind';
import { budget, decodeErrors, makeMedia, run, startTcpTs, tmpDir, waitFor } from './helpers/media.mjs';

const test = suite('continuous recording');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const camera = () => syntheticSource({ width: 160, height: 120, fps: 25 });

// Each video packet of a file: [pts_time, keyframe].
async function videoPackets(file) {
  const { out } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  return out.trim().split('\n').filter(Boolean).map((l) => {
    const [t, flags] = l.split(',');
    return { t: +t, key: flags.includes('K') };
  });
}

test('segments cut on keyframes, named by their start, indexed; none is lost between them', async () => {
  const dir = tmpDir();
  const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, statsInterval: 0, record: { dir, segmentSeconds: 2 } });
  const events = [];
  rec.on('segment', (s) => events.push(s));
  await rec.start();
  await waitFor(() => events.length >= 3, { timeout: budget(8) });
  await rec.stop();
  const list = rec.recordings();
  assert.ok(list.length >= 4, `${list.length} segments`);
  assert.ok(list.every((s) => s.complete), JSON.stringify(list));
  assert.is(events.length, list.length, 'a segment event for each, the last at stop()');
  const names = list.map((s) => path.basename(s.file));
  assert.equal(names, [...names].sort());
  for (const s of list) {
    assert.match(path.basename(s.file), /^recording_\d{8}_\d{6}(_\d+)?\.mp4$/);
    // The name is the start, to the second, in local time.
    const m = /recording_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})/.exec(s.file);
    const named = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]).getTime();
    assert.ok(s.start.getTime() - named >= 0 && s.start.getTime() - named < 1000, `${s.file} starts ${s.start.toISOString()}`);
    assert.is(s.bytes, fs.statSync(s.file).size);
    const pk = await videoPackets(s.file);
    assert.ok(pk[0].key, `${s.file} does not start with a keyframe`);
    assert.ok(Math.abs(pk.length / 25 - s.duration) < 0.1, `${s.file}: ${pk.length} frames, ${s.duration} s`);
    assert.equal(await decodeErrors(s.file), '', s.file);
  }
  // Boundaries: every full segment ends within a GOP after a multiple of 2 s of the clock.
  for (const s of list.slice(0, -1)) {
    const end = s.end.getTime() / 1000;
    const past = end - Math.floor(end / 2) * 2;
    assert.ok(past < 0.55 || past > 1.99, `${s.file} ends ${past.toFixed(3)} s past a boundary`);
  }
  // Consecutive segments join without a missing or repeated frame.
  for (let i = 1; i < list.length; i++) {
    const gap = list[i].start - list[i - 1].end;
    // (A segment's audio may end up to one audio frame past the next one's first video frame.)
    assert.ok(gap > -25 && gap < 15, `${gap} ms between ${names[i - 1]} and ${names[i]}`);
  }
  // The index: the same entries.
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'recording_index.json'), 'utf8'));
  assert.equal(index.map((e) => e.file), names);
  assert.equal(index.map((e) => e.bytes), list.map((s) => s.bytes));
  assert.ok(index.every((e) => e.complete === true));
});

test('a SIGKILLed recorder leaves playable segments, and the next start rebuilds the index from them', async () => {
  const dir = tmpDir();
  const script = `
    import { footage, Recorder, syntheticSource } from 'av-rewind';
    const rec = new Recorder({ ...syntheticSource({ width: 160, height: 120, fps: 25 }), encoder: { gopSeconds: 0.5 }, record: { dir: ${JSON.stringify(dir)}, segmentSeconds: 2 } });
    rec.on('segment', (s) => console.log('segment', s.file));
    await rec.start();
    console.log('recording');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await waitFor(() => (out.match(/^segment /gm) ?? []).length >= 1, { timeout: budget(6), message: () => out });
  await new Promise((r) => setTimeout(r, 1300)); // well into the next segment
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.mp4')).sort();
  assert.ok(files.length >= 2, files.join());
  for (const f of files) {
    const pk = await videoPackets(path.join(dir, f));
    assert.ok(pk.length >= 10, `${f}: ${pk.length} frames`);
    assert.equal(await decodeErrors(path.join(dir, f)), '', f);
  }
  // The index still says the last one is being written: a new recorder probes it.
  const before = JSON.parse(fs.readFileSync(path.join(dir, 'recording_index.json'), 'utf8'));
  assert.is(before.at(-1).complete, false);
  const rec = new Recorder({ ...camera(), statsInterval: 0, record: { dir, segmentSeconds: 2 } });
  await rec.start();
  const list = rec.recordings();
  await rec.stop();
  const killed = list.find((s) => path.basename(s.file) === files.at(-1));
  assert.ok(killed, JSON.stringify(list));
  assert.is(killed.complete, false);
  const frames = (await videoPackets(killed.file)).length;
  assert.ok(Math.abs(killed.duration - frames / 25) < 0.1, `${killed.duration} s for ${frames} frames`);
  assert.is(killed.bytes, fs.statSync(killed.file).size);
  const after = JSON.parse(fs.readFileSync(path.join(dir, 'recording_index.json'), 'utf8'));
  assert.ok(after.some((e) => e.file === files.at(-1) && e.complete === false && Math.abs(e.duration - killed.duration) < 1e-6));
});

test('retention by age, by size and by free space deletes the oldest, never the open segment', async () => {
  const dir = tmpDir();
  // A real segment, copied under old names.
  const seed = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, statsInterval: 0, record: { dir, segmentSeconds: 1 } });
  await seed.start();
  await waitFor(() => seed.recordings().filter((s) => s.complete).length >= 1, { timeout: budget(4) });
  await seed.stop();
  const real = seed.recordings()[0].file;
  for (const f of fs.readdirSync(dir)) if (f !== path.basename(real)) fs.rmSync(path.join(dir, f));
  const old = ['recording_20200101_000000.mp4', 'recording_20200101_001000.mp4', 'recording_20200101_002000.mp4'];
  for (const f of old) fs.copyFileSync(real, path.join(dir, f));
  fs.rmSync(real);
  fs.rmSync(path.join(dir, 'recording_index.json'), { force: true });
  const size = fs.statSync(path.join(dir, old[0])).size;

  const runWith = async (record, wait) => {
    const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, statsInterval: 0, record: { dir, segmentSeconds: 60, ...record } });
    const deleted = [];
    rec.on('deleted', (d) => deleted.push(d));
    await rec.start();
    await waitFor(() => wait(deleted, rec), { timeout: budget(4), message: () => JSON.stringify(deleted) });
    const open = rec.recordings().filter((s) => !s.complete).map((s) => path.basename(s.file));
    const openExists = open.every((f) => fs.existsSync(path.join(dir, f)));
    await rec.stop();
    return { deleted, open, openExists };
  };
  // Size: three old segments plus the open one are more than 2.5 segments' worth: the oldest go.
  const bySize = await runWith({ retainHours: 0, maxBytes: Math.round(size * 2.5) }, (d) => d.length >= 1);
  assert.equal(bySize.deleted.map((d) => [path.basename(d.file), d.reason]), [[old[0], 'size']]);
  // Age: the rest of 2020 goes.
  const byAge = await runWith({ retainHours: 1 }, (d) => d.length >= 2);
  assert.equal(byAge.deleted.map((d) => [path.basename(d.file), d.reason]), [[old[1], 'age'], [old[2], 'age']]);
  // Free space: never enough, so every closed segment goes, the one being written stays.
  const bySpace = await runWith({ retainHours: 0, minFreeBytes: Number.MAX_SAFE_INTEGER }, (d, rec) => rec.recordings().length === 1);
  assert.ok(bySpace.deleted.every((d) => d.reason === 'space'));
  assert.ok(bySpace.deleted.length >= 1, 'the previous runs\' segments');
  assert.equal(bySpace.open.length, 1);
  assert.ok(bySpace.openExists, 'the open segment was kept');
});

// Every video frame of a clip 40 ms after the one before: none doubled, none missing.
async function checkFrames(file, label) {
  const pk = await videoPackets(file);
  const t = pk.map((p) => p.t).sort((a, b) => a - b);
  const steps = t.slice(1).map((x, i) => +(x - t[i]).toFixed(3));
  const bad = steps.map((d, i) => [i, d]).filter(([, d]) => Math.abs(d - 0.04) > 0.002);
  assert.equal(bad, [], `${label}: frame steps that are not 40 ms: ${JSON.stringify(bad.slice(0, 5))}`);
  assert.ok(pk[0].key, `${label}: starts without a keyframe`);
  assert.equal(await decodeErrors(file), '', label);
  return pk.length;
}

test('footage joins disk segments and the memory buffer without a doubled or missing frame; standalone from the folder', async () => {
  const dir = tmpDir();
  const out = tmpDir();
  const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, bufferSeconds: 3, statsInterval: 0, record: { dir, segmentSeconds: 2 } });
  await rec.start();
  const t0 = Date.now();
  try {
    await waitFor(() => rec.recordings().filter((s) => s.complete).length >= 3, { timeout: budget(9) });
    const from = new Date(t0 + 1200), to = new Date(Date.now() - 500);
    const r = await rec.footage({ from, to }, path.join(out, 'both.mp4'));
    assert.ok(r.sources.disk > 0.5 && r.sources.memory > 1, JSON.stringify(r.sources));
    assert.ok(Math.abs(r.sources.disk + r.sources.memory - r.duration) < 0.1, JSON.stringify(r));
    assert.ok(r.start <= from && from - r.start < 550, `starts ${r.start.toISOString()} for ${from.toISOString()}`);
    assert.ok(Math.abs(r.end - to) < 100, `ends ${r.end.toISOString()} for ${to.toISOString()}`);
    assert.equal(r.missing, []);
    // A SaveResult, plus sources and missing.
    assert.ok(Math.abs(r.requested - (to - from) / 1000) < 1e-9, String(r.requested));
    assert.ok(Math.abs(r.timeline.end - r.timeline.start - r.duration) < 1e-3 && r.timeline.end <= rec.stats.newest + 0.05, JSON.stringify(r.timeline));
    assert.is(r.dropped, 0);
    assert.is(r.truncated, false);
    assert.is(r.gaps, 0);
    assert.equal(r.streams.map((x) => x.type).sort(), ['audio', 'video']);
    const frames = await checkFrames(r.path, 'disk + memory');
    assert.ok(Math.abs(frames - r.duration * 25) <= 1, `${frames} frames in ${r.duration} s`);
    // A range from before the recording began: what nothing covers is said.
    const early = await rec.footage({ from: new Date(t0 - 5000), to: new Date(t0 + 3000) }, path.join(out, 'early.mp4'));
    assert.is(early.missing.length, 1);
    assert.ok(Math.abs(early.missing[0].from - (t0 - 5000)) < 1 && early.missing[0].to - t0 < 1500, JSON.stringify(early.missing));
    await checkFrames(early.path, 'early');
    const none = await rec.footage({ from: '20010101_000000', to: '20010101_000010' }, path.join(out, 'none.mp4')).catch((e) => e);
    assert.is(none.code, 'ERR_RANGE_NOT_BUFFERED');
    // A segment gone from under the recorder (deleted by hand, a damaged disk): its span is missing, the
    // rest is still written.
    const gone = rec.recordings()[1];
    fs.rmSync(gone.file);
    const oldest = rec.stats.oldestTime.getTime();
    const holed = await rec.footage({ from: rec.recordings()[0].start, to: new Date(Date.now() - 500) }, path.join(out, 'holed.mp4'));
    assert.is(holed.missing.length, 1, JSON.stringify(holed.missing));
    // (It ends where the next segment or the memory's first keyframe takes over.)
    const [hole] = holed.missing, covered = Math.min(gone.end.getTime(), oldest);
    assert.ok(Math.abs(hole.from - gone.start) < 100 && hole.to >= covered - 100 && hole.to <= Math.min(gone.end.getTime(), oldest + 550) + 100,
      JSON.stringify({ holed: holed.missing, gone, oldest: new Date(oldest) }));
    assert.is(holed.gaps, 1);
  } finally {
    await rec.stop();
  }
  // From the folder alone.
  const list = JSON.parse(fs.readFileSync(path.join(dir, 'recording_index.json'), 'utf8'));
  const from = new Date(Date.parse(list[1].start) + 300), to = new Date(Date.parse(list.at(-1).end) - 300);
  const r = await footage(dir, { from, to }, path.join(out, 'disk.mp4'));
  assert.is(r.sources.memory, 0);
  assert.is(r.timeline, null);
  assert.ok(Math.abs(r.sources.disk - r.duration) < 0.05, JSON.stringify(r));
  const frames = await checkFrames(r.path, 'disk only');
  assert.ok(Math.abs(frames - r.duration * 25) <= 1, `${frames} frames in ${r.duration} s`);
  const bad = await footage(dir, { from: '20240517_102300', to: '20240517_1023' }, path.join(out, 'x.mp4')).catch((e) => e);
  assert.is(bad.code, 'ERR_INVALID_ARG');
});

test('footage from deep inside a long segment (mp4 fragments, MPEG-TS): seeks, starts at the keyframe before `from`', async () => {
  const dir = tmpDir();
  // 60 s, a keyframe every second, each frame's index (mod 50) in its brightness.
  const src = path.join(dir, 'src.mkv');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', "nullsrc=s=64x48:r=25,format=yuv420p,geq=lum='16+mod(N\\,50)*4':cb=128:cr=128",
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-qp', '0', '-g', '25', '-keyint_min', '25',
    '-sc_threshold', '0', '-c:a', 'aac', '-ar', '48000', src]);
  const t0 = new Date(2024, 4, 17, 10, 30, 0).getTime();
  for (const [ext, args] of [['mp4', ['-movflags', '+frag_keyframe+empty_moov+delay_moov+default_base_moof', '-frag_duration', '1000000']], ['ts', []]]) {
    const rec = path.join(dir, ext);
    fs.mkdirSync(rec);
    const name = `recording_20240517_103000.${ext}`;
    await run('ffmpeg', ['-v', 'error', '-y', '-i', src, '-map', '0', '-c', 'copy', ...args, path.join(rec, name)]);
    fs.writeFileSync(path.join(rec, 'recording_index.json'), JSON.stringify([{ file: name, start: new Date(t0).toISOString(),
      end: new Date(t0 + 60000).toISOString(), bytes: fs.statSync(path.join(rec, name)).size, duration: 60, complete: true }]));
    const r = await footage(rec, { from: t0 + 37500, to: t0 + 41200 }, path.join(dir, `${ext}.mp4`));
    assert.is(r.start.getTime(), t0 + 37000, `${ext}: starts ${r.start.getTime() - t0} ms in`);
    assert.ok(Math.abs(r.duration - 4.2) < 0.05, `${ext}: ${r.duration} s`);
    assert.equal(r.missing, []);
    const frames = await checkFrames(r.path, ext);
    assert.is(frames, 105, `${ext}: ${frames} frames`);
    const raw = path.join(dir, `${ext}.y`);
    await run('ffmpeg', ['-v', 'error', '-y', '-i', r.path, '-vf', 'extractplanes=y', '-frames:v', '1', '-f', 'rawvideo', raw]);
    assert.is((fs.readFileSync(raw)[64 * 24 + 32] - 16) / 4, 925 % 50, `${ext}: the first frame is not frame 925`);
  }
});

test('a network source (MPEG-TS over TCP: Annex B video, ADTS audio) in mp4 segments, joined with the buffer', async () => {
  const dir = tmpDir();
  // Each frame carries its index (mod 50) in its brightness (flat frames at qp 2 decode exactly). Two
  // B-frames (lossless x264 would use none): the joins are cut in decode order. 60 s, so that the test
  // (even under the sanitizers) never reaches the server's loop point, where `-stream_loop` with B-frames
  // gives timestamps that overlap.
  const src = path.join(dir, 'src.ts');
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', "nullsrc=s=64x48:r=25,format=yuv420p,geq=lum='16+mod(N\\,50)*4':cb=128:cr=128",
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '60', '-c:v', 'libx264', '-qp', '2', '-g', '12', '-keyint_min', '12',
    '-sc_threshold', '0', '-bf', '2', '-x264-params', 'b-adapt=0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ar', '48000', src]);
  const server = await startTcpTs({ file: src });
  const rec = new Recorder({ source: server.url, bufferSeconds: 3, statsInterval: 0, record: { dir: path.join(dir, 'rec'), segmentSeconds: 2 } });
  try {
    await rec.start();
    await waitFor(() => rec.recordings().filter((s) => s.complete).length >= 4, { timeout: budget(11) });
    for (const s of rec.recordings().filter((x) => x.complete)) {
      assert.ok((await videoPackets(s.file))[0].key, s.file);
      assert.equal(await decodeErrors(s.file), '', s.file);
    }
    // The wall clock of a network source settles over its first seconds (the first packets waited for the
    // probe), so the first segments span less wall time than media: the range is placed on the wall clock.
    const second = rec.recordings()[1].start;
    // Up to now: footage() waits for what is still on its way (the audio trails the video), as a save waits
    // for its post-roll, so the clip's audio reaches its end.
    const from = new Date(second.getTime() + 300), to = new Date();
    const r = await rec.footage({ from, to }, path.join(dir, 'net.mp4'));
    assert.ok(r.sources.disk > 0.5 && r.sources.memory > 1, JSON.stringify(r.sources));
    assert.ok(r.start <= from && from - r.start < 550, `starts ${r.start.toISOString()} for ${from.toISOString()}`);
    // It ends at `to`, or at the newest instant buffered at the call (what came later is missing). (With
    // two B-frames the last frame before the end may need a P-frame shown up to 3 frames later.)
    const tail = r.missing.find((m) => m.to.getTime() === to.getTime());
    assert.ok(r.missing.length === (tail ? 1 : 0), JSON.stringify(r.missing));
    const want = tail ? tail.from : to;
    assert.ok(r.end - want > -100 && r.end - want < 100 + 120, `ends ${r.end.toISOString()} for ${want.toISOString()}`);
    assert.is(r.dropped, 0, 'packets the muxer refused (a doubled decode time at a join)');
    assert.is(r.truncated, false);
    await checkFrames(r.path, 'network: disk + memory');
    // Against the source: the frames' indices follow one another, across both segment joins and the
    // disk/memory join (a doubled or a lost frame breaks the run).
    const raw = path.join(dir, 'net.y');
    await run('ffmpeg', ['-v', 'error', '-y', '-i', r.path, '-vf', 'extractplanes=y', '-f', 'rawvideo', raw]);
    const y = fs.readFileSync(raw);
    const idx = [];
    for (let o = 0; o + 64 * 48 <= y.length; o += 64 * 48) idx.push(Math.round((y[o + 64 * 24 + 32] - 16) / 4));
    assert.ok(idx.length >= 25 * 4, `${idx.length} frames`);
    const breaks = idx.slice(1).map((v, i) => [i + 1, idx[i], v]).filter(([, a, b]) => (a + 1) % 50 !== b);
    assert.equal(breaks, [], `frame index runs broken at ${JSON.stringify(breaks.slice(0, 5))}`);
    // The audio joins too (raw AAC from the ADTS of both sides): every AAC frame follows the one before
    // it (to the timeline's µs rounding), across both segment joins and the disk/memory join.
    const { out } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts', '-of', 'csv=p=0', r.path]);
    const apts = out.trim().split('\n').map(Number);
    for (let i = 1; i < apts.length; i++) assert.ok(Math.abs(apts[i] - apts[i - 1] - 1024) <= 48, `audio step ${apts[i] - apts[i - 1]} samples at packet ${i}`);
    // From the first frame (the first audio frame presented at or after the first video frame) to the end.
    const audioSeconds = (apts.at(-1) + 1024) / 48000;
    assert.ok(apts[0] / 48000 < 0.025 && Math.abs(audioSeconds - r.duration) < 0.05, `audio ${apts[0] / 48000}..${audioSeconds} s for ${r.duration} s`);
    // The first segment has audio too (a fragmented mp4 needs the configuration that ADTS brings with its
    // first packet, which MPEG-TS sends after the first video: the segment waited for it).
    // The same range into the other containers: the joined packets are valid there too.
    for (const ext of ['mkv', 'ts', 'mov']) {
      const o = await rec.footage({ from, to: r.end }, path.join(dir, `net.${ext}`));
      assert.equal(await decodeErrors(o.path), '', ext);
      // (Placed again a few seconds later, while this source's clock still settles: its ends may move a frame or two.)
      assert.ok(Math.abs(o.duration - r.duration) < 0.2 && o.dropped === 0, `${ext}: ${JSON.stringify(o)} for ${JSON.stringify(r)}`);
    }
    // From disk alone, across this run's first segments (where the clock was still settling): placed on
    // the timeline, the segments neither overlap nor part.
    const early = rec.recordings();
    const d = await rec.footage({ from: early[0].start, to: early[1].end }, path.join(dir, 'early.mp4'));
    assert.is(d.sources.memory, 0, JSON.stringify(d.sources));
    assert.equal(await decodeErrors(d.path), '', 'disk only');
    assert.is(d.dropped, 0);
    await checkFrames(d.path, 'disk only');
    const first = rec.recordings()[0].file;
    const { out: streams } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', first]);
    assert.equal(streams.trim().split('\n').sort(), ['audio', 'video'], first);
  } finally {
    await rec.stop();
    await server.stop();
  }
});

test("format: 'ts': MPEG-TS segments on keyframes, footage across them and the buffer", async () => {
  const dir = tmpDir();
  const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, bufferSeconds: 3, statsInterval: 0, record: { dir, segmentSeconds: 2, format: 'ts' } });
  await rec.start();
  try {
    await waitFor(() => rec.recordings().filter((s) => s.complete).length >= 3, { timeout: budget(9) });
    const done = rec.recordings().filter((s) => s.complete);
    for (const s of done) {
      assert.match(path.basename(s.file), /^recording_\d{8}_\d{6}(_\d+)?\.ts$/);
      const pk = await videoPackets(s.file);
      assert.ok(pk[0].key, `${s.file} does not start with a keyframe`);
      assert.equal(await decodeErrors(s.file), '', s.file);
    }
    const from = new Date(done[1].start.getTime() + 300), to = new Date(Date.now() - 500);
    const r = await rec.footage({ from, to }, path.join(dir, 'clip.mp4'));
    assert.ok(r.sources.disk > 0.5 && r.sources.memory > 1, JSON.stringify(r.sources));
    assert.equal(r.missing, []);
    const frames = await checkFrames(r.path, 'ts segments + memory');
    assert.ok(Math.abs(frames - r.duration * 25) <= 1, `${frames} frames in ${r.duration} s`);
  } finally {
    await rec.stop();
  }
});

test('a disk slower than the stream: a warning, whole GOPs dropped, every segment still clean', async () => {
  const dir = tmpDir();
  // Fault injection: each packet's write takes 25 ms (the source brings ~72 packets/s), the queue holds 24.
  process.env.AV_REWIND_RECORD_QUEUE = '24';
  process.env.AV_REWIND_RECORD_DELAY_US = '25000';
  const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, statsInterval: 0, record: { dir, segmentSeconds: 2 } });
  const warnings = [];
  rec.on('warning', (w) => warnings.push(w));
  try {
    await rec.start();
  } finally {
    delete process.env.AV_REWIND_RECORD_QUEUE;
    delete process.env.AV_REWIND_RECORD_DELAY_US;
  }
  try {
    await waitFor(() => rec.recordings().filter((s) => s.complete).length >= 2, { timeout: budget(10) });
  } finally {
    await rec.stop();
  }
  const behind = warnings.filter((w) => w.code === 'WARN_RECORD_BEHIND');
  assert.ok(behind.length >= 1, JSON.stringify(warnings));
  assert.match(behind[0].message, /dropped/);
  let holes = 0;
  for (const s of rec.recordings()) {
    const pk = (await videoPackets(s.file)).sort((a, b) => a.t - b.t);
    if (pk.length === 0) continue;
    assert.ok(pk[0].key, `${s.file} does not start with a keyframe`);
    assert.equal(await decodeErrors(s.file), '', s.file);
    // Whatever was dropped went as whole GOPs: after every hole comes a keyframe.
    for (let i = 1; i < pk.length; i++) {
      if (pk[i].t - pk[i - 1].t < 0.041) continue;
      holes++;
      assert.ok(pk[i].key, `${s.file}: a hole before a frame that is not a keyframe (${pk[i - 1].t} → ${pk[i].t})`);
    }
  }
  assert.ok(holes >= 1, 'nothing was dropped: the test did not slow the disk down');
});

test('a folder that becomes unwritable: an error event, memory recording goes on, a new segment once it is back', async () => {
  const dir = tmpDir();
  const recDir = path.join(dir, 'rec');
  const rec = new Recorder({ ...camera(), encoder: { gopSeconds: 0.5 }, statsInterval: 0, record: { dir: recDir, segmentSeconds: 1 } });
  const errors = [];
  rec.on('error', (e) => errors.push(e));
  await rec.start();
  try {
    await waitFor(() => rec.recordings().filter((s) => s.complete).length >= 1, { timeout: budget(4) });
    // The folder goes and a file takes its name: no segment can be created there.
    fs.rmSync(recDir, { recursive: true });
    fs.writeFileSync(recDir, 'not a folder');
    await waitFor(() => errors.length >= 1, { timeout: budget(4), message: 'no error event' });
    assert.is(errors[0].code, 'ERR_WRITE');
    const buffered = rec.stats.newest;
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(rec.stats.newest > buffered + 0.5, 'recording to memory stopped');
    const before = rec.recordings().length;
    fs.rmSync(recDir);
    // Retried every 5 s: a new segment from a keyframe.
    await waitFor(() => rec.recordings().length > before && fs.existsSync(recDir) && fs.readdirSync(recDir).some((f) => f.endsWith('.mp4')),
      { timeout: budget(8), message: () => JSON.stringify(rec.recordings()) });
    await waitFor(() => rec.recordings().filter((s) => s.complete && fs.existsSync(s.file)).length >= 1, { timeout: budget(4) });
    const again = rec.recordings().filter((s) => s.complete && fs.existsSync(s.file));
    assert.ok((await videoPackets(again[0].file))[0].key);
  } finally {
    await rec.stop();
  }
});

test('record options are checked', async () => {
  for (const [record, re] of [[{}, /record\.dir/], [{ dir: 'x', segmentSeconds: 0 }, /segmentSeconds/], [{ dir: 'x', format: 'mkv' }, /format/], [{ dir: 'x', retention: 1 }, /retention/]]) {
    let e;
    try {
      new Recorder({ ...camera(), record });
    } catch (err) {
      e = err;
    }
    assert.is(e?.code, 'ERR_INVALID_ARG', JSON.stringify(record));
    assert.match(e.message, re);
  }
  const rec = new Recorder(camera());
  assert.throws(() => rec.recordings(), /record/);
});

test.run();
