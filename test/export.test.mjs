// exportMp3 / exportAudio: a range's audio as MP3 or copied, checked against independent references: the
// ffmpeg CLI decoding the same range of the source, ffprobe, and the source's own packets (framemd5).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { exportAudio, exportMp3, Recorder, RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { budget, makeMedia, run, startTcpTs, tmpDir, waitFor } from './helpers/media.mjs';
import { encode, music, RATE } from './helpers/audio.mjs';

const test = suite('audio export');
let dir, tone, tune;
test.before(async () => {
  dir = tmpDir();
  // A 440 Hz sine (lavfi's, amplitude 1/8) and, for alignment, a melody that never repeats itself.
  tone = await makeMedia({ out: path.join(dir, 'tone.mp4'), seconds: 12, gopSeconds: 2 });
  tune = await encode(music(20, 7), path.join(dir, 'tune.mp4'), { video: true });
  // The same packets in Matroska: read front to back over HTTP, no seeks.
  await run('ffmpeg', ['-v', 'error', '-y', '-i', tune, '-c', 'copy', path.join(dir, 'tune.mkv')]);
});

// Mono float samples of a file, decoded by the ffmpeg CLI (which honours MP3's encoder delay and padding).
async function pcm(file, args = [], rate = RATE) {
  const out = path.join(dir, `pcm-${Math.random().toString(36).slice(2)}.f32`);
  await run('ffmpeg', ['-v', 'error', '-y', ...args, '-i', file, '-vn', '-ac', '1', '-ar', String(rate), '-f', 'f32le', out]);
  const b = fs.readFileSync(out);
  fs.rmSync(out);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const probe = async (file) => JSON.parse((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration,bit_rate:format_tags:stream=codec_name,sample_rate,channels,start_time,duration', '-of', 'json', file])).out);
const rms = (x) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
const db = (x) => 20 * Math.log10(x);
const FRAME = 1152;

test('MP3 CBR of a timeline range: exactly its samples, the bitrate asked, the tone\'s frequency and level, tags', async () => {
  const { rec } = await recordToEnd({ source: tone });
  try {
    const out = path.join(dir, 'cbr.mp3');
    const r = await rec.exportMp3({ from: 2.3, to: 9.7, clock: 'timeline' }, out, { bitrate: 192, tags: { artist: 'av-rewind test' } });
    assert.equal([r.format, r.codec, r.sampleRate, r.channels, r.bitrate], ['mp3', 'mp3', 48000, 2, 192000]);
    assert.ok(Math.abs(r.duration - 7.4) < 1e-6, `duration ${r.duration}`);
    assert.ok(Math.abs(r.timeline.start - 2.3) < 1e-6 && Math.abs(r.timeline.end - 9.7) < 1e-6, JSON.stringify(r.timeline));
    assert.is(r.bytes, fs.statSync(out).size);
    // A full decode gives the range's length to the sample; ffprobe's duration less its start (the
    // encoder delay it skips) is within one MP3 frame (the padding).
    const x = await pcm(out);
    assert.is(x.length, 7.4 * RATE);
    const p = await probe(out);
    const st = p.streams[0];
    assert.equal([st.codec_name, +st.sample_rate, st.channels], ['mp3', 48000, 2]);
    assert.ok(Math.abs(+p.format.duration - +st.start_time - 7.4) <= FRAME / 48000, `ffprobe: ${p.format.duration} − ${st.start_time}`);
    assert.ok(Math.abs(+p.format.bit_rate / 1000 - 192) < 2, `bit_rate ${p.format.bit_rate}`);
    // ID3v2: the tags given, and a default title naming the source and the range.
    assert.is(p.format.tags.artist, 'av-rewind test');
    assert.match(p.format.tags.title, /tone\.mp4 2\.3 s – 9\.7 s/);
    assert.is(fs.readFileSync(out).subarray(0, 3).toString(), 'ID3');
    // The content: 440 Hz at the level of the same range decoded from the source.
    const mid = x.subarray(RATE / 2, x.length - RATE / 2);
    let crossings = 0;
    for (let i = 1; i < mid.length; i++) if (mid[i - 1] < 0 && mid[i] >= 0) crossings++;
    const freq = crossings / (mid.length / RATE);
    assert.ok(Math.abs(freq - 440) < 1, `frequency ${freq}`);
    const ref = await pcm(tone, ['-ss', '2.3', '-t', '7.4']);
    const diff = db(rms(mid)) - db(rms(ref.subarray(RATE / 2, ref.length - RATE / 2)));
    // (LAME itself takes 0.26 dB off this tone: the ffmpeg CLI's own MP3 of it measures the same.)
    assert.ok(Math.abs(diff) < 0.5, `level differs by ${diff.toFixed(2)} dB`);
  } finally {
    await rec.stop();
  }
});

test('MP3 VBR: a Xing header, the quality asked, a resampled mono output of exact length', async () => {
  const { rec } = await recordToEnd({ source: tone });
  try {
    const hi = await rec.exportMp3({ from: 1, to: 11, clock: 'timeline' }, path.join(dir, 'vbr0.mp3'), { quality: 0 });
    const lo = await rec.exportMp3({ from: 1, to: 11, clock: 'timeline' }, path.join(dir, 'vbr9.mp3'), { quality: 9, sampleRate: 22050, channels: 1 });
    for (const r of [hi, lo]) {
      const head = fs.readFileSync(r.path).subarray(0, 4096);
      assert.ok(head.includes('Xing'), `${r.path}: no Xing header`);
    }
    assert.ok(lo.bytes < hi.bytes / 3, `quality 9 ${lo.bytes} B, quality 0 ${hi.bytes} B`);
    assert.equal([lo.sampleRate, lo.channels], [22050, 1]);
    assert.is((await pcm(lo.path, [], 22050)).length, 10 * 22050);
    const p = await probe(lo.path);
    assert.equal([+p.streams[0].sample_rate, p.streams[0].channels], [22050, 1]);
  } finally {
    await rec.stop();
  }
});

test('the MP3 is the source\'s audio: cross-correlation with the ffmpeg CLI\'s decode of the same range peaks at zero lag', async () => {
  const { rec } = await recordToEnd({ source: tune });
  try {
    const r = await rec.exportMp3({ from: 4.25, to: 14.25, clock: 'timeline' }, path.join(dir, 'tune.mp3'), { bitrate: 256 });
    const ours = await pcm(r.path);
    const ref = await pcm(tune, ['-ss', String(r.timeline.start), '-t', String(r.duration)]);
    assert.ok(Math.abs(ours.length - ref.length) <= 1, `${ours.length} vs ${ref.length} samples`);
    // Normalized cross-correlation over ±0.1 s, on a 4 s stretch from the middle.
    const a = ours.subarray(3 * RATE, 7 * RATE);
    let best = -Infinity, lag = 0;
    for (let k = -4800; k <= 4800; k += 1) {
      let s = 0;
      for (let i = 0; i < a.length; i += 4) s += a[i] * (ref[3 * RATE + i + k] ?? 0);
      if (s > best) [best, lag] = [s, k];
    }
    assert.ok(Math.abs(lag) <= FRAME, `peak at lag ${lag} samples`);
    let num = 0, ea = 0, eb = 0;
    for (let i = 0; i < a.length; i++) {
      const b = ref[3 * RATE + i + lag];
      num += a[i] * b;
      ea += a[i] * a[i];
      eb += b * b;
    }
    const corr = num / Math.sqrt(ea * eb);
    assert.ok(corr > 0.99, `correlation ${corr.toFixed(4)} at lag ${lag}`);
    assert.is(lag, 0, `peak at lag ${lag}`);
  } finally {
    await rec.stop();
  }
});

test('progress is monotonic and reaches 1; abort removes the file', async () => {
  const long = await makeMedia({ out: path.join(dir, 'long.mp4'), seconds: 90, width: 160, height: 120, gopSeconds: 2 });
  const { rec } = await recordToEnd({ source: long, bufferSeconds: 600 });
  try {
    const seen = [];
    const r = await rec.exportMp3({ last: 90 }, path.join(dir, 'long.mp3'), { onProgress: (p) => seen.push(p) });
    const ratios = seen.map((p) => p.ratio);
    assert.ok(ratios.length >= 3, `progress ${JSON.stringify(ratios)}`);
    for (let i = 1; i < ratios.length; i++) assert.ok(ratios[i] >= ratios[i - 1], `not monotonic: ${ratios}`);
    assert.is(ratios.at(-1), 1);
    assert.ok(ratios.filter((x) => x > 0 && x < 1).length >= 1, `no progress between 0 and 1: ${ratios}`);
    assert.is(seen.at(-1).bytes, r.bytes);
    // Aborted while running: ERR_ABORTED, and neither the file nor a temporary one is left.
    const ac = new AbortController();
    const out = path.join(dir, 'aborted.mp3');
    const p = rec.exportMp3({ last: 90 }, out, { signal: ac.signal, onProgress: (x) => x.ratio > 0 && ac.abort() });
    setTimeout(() => ac.abort(), 50);
    const e = await p.catch((err) => err);
    assert.instance(e, RecorderError);
    assert.is(e.code, 'ERR_ABORTED');
    assert.not.ok(fs.existsSync(out));
    assert.equal(fs.readdirSync(dir).filter((f) => f.includes('aborted')), []);
  } finally {
    await rec.stop();
  }
});

// Each audio packet of a file: [pts, size, md5] as ffmpeg's framemd5 lists them.
async function framemd5(file) {
  // ADTS frames carry a header the other containers keep in the codec parameters: strip it.
  const bsf = file.endsWith('.aac') ? ['-bsf:a', 'aac_adtstoasc'] : [];
  const { out } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:a', '-c', 'copy', ...bsf, '-f', 'framemd5', '-']);
  return out.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(',').map((s) => s.trim())).map((f) => ({ pts: +f[2], size: +f[4], md5: f[5] }));
}

test('exportAudio copies the packets bit for bit (framemd5 against the source), into the container of the extension', async () => {
  const { rec } = await recordToEnd({ source: tune });
  try {
    const src = await framemd5(tune);
    for (const ext of ['m4a', 'aac', 'mka']) {
      const r = await rec.exportAudio({ from: 5, to: 12, clock: 'timeline' }, path.join(dir, `copy.${ext}`));
      assert.is(r.codec, 'aac');
      const got = await framemd5(r.path);
      // The source's packets that overlap [5, 12): the first one starting at r.timeline.start.
      const i0 = src.findIndex((p) => Math.abs(p.pts / 48000 - r.timeline.start) < 1e-3);
      assert.ok(i0 > 0, `no source packet at ${r.timeline.start}`);
      const want = src.slice(i0, i0 + got.length);
      assert.equal(got.map((p) => p.md5), want.map((p) => p.md5), ext);
      assert.ok(r.timeline.start <= 5 && r.timeline.start > 5 - 1024 / 48000 - 1e-6, `starts ${r.timeline.start}`);
      assert.ok(r.timeline.end >= 12 && r.timeline.end < 12 + 1024 / 48000 + 1e-6, `ends ${r.timeline.end}`);
      assert.is(got.length, Math.round((r.timeline.end - r.timeline.start) * 48000 / 1024));
    }
    for (const [file, re] of [['x.ogg', /aac.*Ogg/], ['x.mp3', /aac/], ['x.wav', /container/]]) {
      const e = await rec.exportAudio({ last: 3 }, path.join(dir, file)).catch((err) => err);
      assert.instance(e, RecorderError, file);
      assert.is(e.code, 'ERR_INVALID_ARG', file);
      assert.match(e.message, re);
      assert.not.ok(fs.existsSync(path.join(dir, file)));
    }
  } finally {
    await rec.stop();
  }
});

test('saveLast { mp3 } writes the clip\'s audio beside it, from the same packets', async () => {
  const { rec } = await recordToEnd({ source: tone });
  try {
    const r = await rec.saveLast(5, path.join(dir, 'clip.mp4'), { mp3: path.join(dir, 'clip.mp3') });
    assert.ok(r.mp3, 'no mp3 in the result');
    assert.is(r.mp3.path, path.join(dir, 'clip.mp3'));
    assert.ok(Math.abs(r.mp3.timeline.start - r.timeline.start) < 1e-6 && Math.abs(r.mp3.timeline.end - r.timeline.end) < 1e-6,
      `clip ${JSON.stringify(r.timeline)}, mp3 ${JSON.stringify(r.mp3.timeline)}`);
    assert.is((await pcm(r.mp3.path)).length, Math.round(r.duration * RATE));
    const e = await rec.saveLast(5, path.join(dir, 'clip2.mp4'), { mp3: { path: path.join(dir, 'clip2.mp3'), bitrate: 7 } }).catch((err) => err);
    assert.is(e.code, 'ERR_INVALID_ARG');
    assert.not.ok(fs.existsSync(path.join(dir, 'clip2.mp4')));
  } finally {
    await rec.stop();
  }
});

test('across a reconnect gap: silence keeps the MP3 as long as the range (the hole\'s time kept), skip joins the sides', async () => {
  const src = await makeMedia({ out: path.join(dir, 'live.ts'), seconds: 30, width: 160, height: 120, gopSeconds: 1 });
  const server = await startTcpTs({ file: src });
  const rec = new Recorder({ source: server.url, reconnect: { delay: 0.2 }, statsInterval: 0 });
  try {
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds > 3, { timeout: budget(3) });
    const reconnected = new Promise((r) => rec.once('reconnected', r));
    await server.stop();
    await new Promise((r) => setTimeout(r, 2000));
    await server.restart();
    await reconnected;
    await waitFor(() => rec.stats.gaps.length > 0 && rec.stats.newest - rec.stats.gaps.at(-1).to > 3, { timeout: budget(4) });
    const gap = rec.stats.gaps.at(-1);
    const from = rec.stats.oldest + 0.5, to = rec.stats.newest - 0.5;
    const silence = await rec.exportMp3({ from, to, clock: 'timeline' }, path.join(dir, 'gap-silence.mp3'));
    const skip = await rec.exportMp3({ from, to, clock: 'timeline' }, path.join(dir, 'gap-skip.mp3'), { gaps: 'skip' });
    const hole = gap.to - gap.from;
    assert.ok(hole > 1, `gap ${JSON.stringify(gap)}`);
    assert.ok(Math.abs(silence.duration - (to - from)) < 0.05, `silence: ${silence.duration} s for ${to - from} s`);
    assert.ok(Math.abs(skip.duration - (to - from - hole)) < 0.1, `skip: ${skip.duration} s for ${to - from} s less a ${hole} s gap`);
    // Within one MP3 frame (the bound). Without holes the length is exact (tests above); across
    // one, some runs decode ~35 samples (0.7 ms) more than were written, cause not yet found.
    const decoded = (await pcm(silence.path)).length;
    assert.ok(Math.abs(decoded - Math.round(silence.duration * RATE)) <= FRAME, `${decoded} samples decoded, ${silence.duration} s written`);
  } finally {
    await rec.stop();
    await server.stop();
  }
});

test('standalone exportMp3 / exportAudio of a file and of an http URL', async () => {
  const r = await exportMp3(tone, path.join(dir, 'file.mp3'), { bitrate: 128 });
  const ref = await pcm(tone);
  const x = await pcm(r.path);
  assert.is(x.length, ref.length);
  assert.ok(Math.abs(r.duration - ref.length / RATE) < 1e-6, `${r.duration} s`);
  const server = http.createServer((req, res) => fs.createReadStream(path.join(dir, 'tune.mkv')).pipe(res.writeHead(200, { 'content-type': 'video/mp4' })));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/tune.mkv`;
    const m = await exportMp3(url, path.join(dir, 'url.mp3'), { quality: 5 });
    assert.is((await pcm(m.path)).length, (await pcm(path.join(dir, 'tune.mkv'))).length);
    const c = await exportAudio(url, path.join(dir, 'url.m4a'));
    assert.equal((await framemd5(c.path)).map((p) => p.md5), (await framemd5(tune)).map((p) => p.md5));
  } finally {
    server.close();
  }
  const e = await exportMp3(path.join(dir, 'none.mp4'), path.join(dir, 'none.mp3')).catch((err) => err);
  assert.is(e.code, 'ERR_OPEN_INPUT');
});

test('errors: no audio, a range not buffered, bad options, the missing-encoder path', async () => {
  const v = await makeMedia({ out: path.join(dir, 'video.mp4'), seconds: 2, audio: false });
  const { rec: silent } = await recordToEnd({ source: v });
  const e1 = await silent.exportMp3({ last: 1 }, path.join(dir, 'n.mp3')).catch((e) => e);
  assert.is(e1.code, 'ERR_NO_AUDIO');
  await silent.stop();
  const e2 = await exportMp3(v, path.join(dir, 'n2.mp3')).catch((e) => e);
  assert.is(e2.code, 'ERR_NO_AUDIO');
  const { rec } = await recordToEnd({ source: tone });
  try {
    for (const [from, to] of [[100, 110], [-30, -20]]) {
      const e3 = await rec.exportMp3({ from, to, clock: 'timeline' }, path.join(dir, 'n3.mp3')).catch((e) => e);
      assert.is(e3.code, 'ERR_RANGE_NOT_BUFFERED', `${from}–${to}`);
    }
    for (const [o, re] of [[{ bitrate: 100 }, /bitrate/], [{ quality: 10 }, /quality/], [{ bitrate: 128, quality: 2 }, /quality/], [{ sampleRate: 96000 }, /sampleRate/], [{ channels: 6 }, /channels/], [{ bitrat: 128 }, /bitrat/], [{ tags: { titel: 'x' } }, /titel/]]) {
      const e = await rec.exportMp3({ last: 2 }, path.join(dir, 'bad.mp3'), o).catch((err) => err);
      assert.is(e.code, 'ERR_INVALID_ARG', JSON.stringify(o));
      assert.match(e.message, re);
    }
    // MP3 at 22.05 kHz allows no 320 kb/s: said natively, once the rate is known.
    const e4 = await rec.exportMp3({ last: 2 }, path.join(dir, 'bad.mp3'), { bitrate: 320, sampleRate: 22050 }).catch((err) => err);
    assert.is(e4.code, 'ERR_INVALID_ARG');
    assert.match(e4.message, /22050 Hz allows/);
    assert.not.ok(fs.existsSync(path.join(dir, 'bad.mp3')));
    process.env.AV_REWIND_MP3_ENCODER = 'no-such-mp3-encoder';
    try {
      const e5 = await rec.exportMp3({ last: 2 }, path.join(dir, 'missing.mp3')).catch((err) => err);
      assert.is(e5.code, 'ERR_ENCODER_MISSING');
      assert.match(e5.message, /libmp3lame/);
      assert.match(e5.stack, /export\.test\.mjs/);
    } finally {
      delete process.env.AV_REWIND_MP3_ENCODER;
    }
    assert.not.ok(fs.existsSync(path.join(dir, 'missing.mp3')));
  } finally {
    await rec.stop();
  }
});

test.run();
