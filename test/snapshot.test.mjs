// snapshot(url): connect, one decodable frame, disconnect. Real servers on 127.0.0.1 (a Node HTTP origin
// for HLS, ffmpeg as an RTMP server, ffmpeg pushing MPEG-TS over UDP); the server side is asked whether
// the connection went.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { snapshot, RecorderError } from 'av-rewind';
import { budget, established, freePort, makeMedia, run, startHls, startRtmp, startUdpTs, tmpDir, waitFor } from './helpers/media.mjs';

const test = suite('snapshot');
let dir, file;
test.before(async () => {
  dir = tmpDir();
  file = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 10, gopSeconds: 2 });
});

// ffprobe's view of an encoded image.
async function imageSize(data, ext) {
  const f = path.join(dir, `img-${Date.now()}-${Math.random().toString(36).slice(2)}.${ext}`);
  fs.writeFileSync(f, data);
  const { out } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'json', f]);
  return JSON.parse(out).streams[0];
}

const ms = (t0) => Date.now() - t0;

test('HLS: a keyframe-clean JPEG within the timeout, the origin sees every connection closed, bytesRead is what was read', async () => {
  const hls = await startHls({ file });
  try {
    const t0 = Date.now();
    const s = await snapshot(hls.url, { timeout: 10 * (budget(0, 1) / 1000), path: path.join(dir, 'hls.jpg') });
    assert.ok(ms(t0) < budget(0, 10), `took ${ms(t0)} ms`);
    assert.is(s.format, 'jpeg');
    assert.equal([s.width, s.height], [320, 240]);
    const p = await imageSize(s.data, 'jpg');
    assert.equal([p.codec_name, p.width, p.height], ['mjpeg', 320, 240]);
    assert.equal(fs.readFileSync(s.path), s.data);
    assert.ok(s.time instanceof Date && Math.abs(s.time.getTime() - Date.now()) < budget(0, 10));
    // The connections are gone as soon as the promise settles (the origin's view).
    await waitFor(() => hls.openConnections() === 0, { timeout: 2000, message: 'HLS connections left open' });
    // Less than the origin sent (libav stops mid-segment), but the playlist and part of a segment.
    assert.ok(s.bytesRead > 1000 && s.bytesRead <= hls.bytesServed(), `bytesRead ${s.bytesRead}, served ${hls.bytesServed()}`);
  } finally {
    await hls.stop();
  }
});

test('RTMP (ffmpeg as the server): a PNG scaled to a width, and the server loses its client', async () => {
  const rtmp = await startRtmp({ file, respawn: false });
  try {
    const s = await snapshot(rtmp.url, { timeout: budget(0, 10) / 1000, format: 'png', width: 160 });
    assert.equal([s.width, s.height], [160, 120]);
    const p = await imageSize(s.data, 'png');
    assert.equal([p.codec_name, p.width, p.height], ['png', 160, 120]);
    // No frame-rate probing: a few KB, not seconds of the stream.
    assert.ok(s.bytesRead > 0 && s.bytesRead < 200_000, `bytesRead ${s.bytesRead}`);
    const est = established(rtmp.port);
    if (est !== null) await waitFor(() => established(rtmp.port) === 0, { timeout: 2000, message: 'RTMP connection left open' });
  } finally {
    await rtmp.stop();
  }
});

test('UDP MPEG-TS joined mid-GOP: waits for a decodable frame (a keyframe), raw pixels with a stride', async () => {
  const udp = await startUdpTs({ file });
  try {
    const s = await snapshot(udp.url, { timeout: budget(0, 10) / 1000, format: 'rgb24' });
    assert.equal([s.width, s.height, s.stride], [320, 240, 960]);
    assert.is(s.data.length, 960 * 240);
    assert.ok(s.keyframe, 'the first clean frame of a stream joined mid-GOP is its next keyframe');
    assert.ok(s.bytesRead > 0);
  } finally {
    await udp.stop();
  }
});

test('a file: its first frame', async () => {
  const s = await snapshot(file, { format: 'gray' });
  assert.is(s.timeline, 0);
  assert.ok(s.keyframe);
  // The same pixels as the ffmpeg CLI's first frame.
  const raw = path.join(dir, 'first.gray');
  await run('ffmpeg', ['-v', 'error', '-y', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', raw]);
  const ref = fs.readFileSync(raw);
  assert.is(ref.length, s.data.length);
  let diff = 0;
  for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i] - s.data[i]));
  assert.ok(diff <= 2, `max pixel difference ${diff}`);
});

test('errors: ERR_OPEN_INPUT, ERR_TIMEOUT, ERR_NO_VIDEO, ERR_ABORTED, ERR_INVALID_ARG', async () => {
  const code = async (p) => p.then(() => 'resolved', (e) => (e instanceof RecorderError ? e.code : String(e)));
  const closed = await freePort('tcp');
  assert.is(await code(snapshot(`http://127.0.0.1:${closed}/live.m3u8`, { timeout: 5 })), 'ERR_OPEN_INPUT');
  const silent = await freePort('udp');
  let t0 = Date.now();
  assert.is(await code(snapshot(`udp://127.0.0.1:${silent}`, { timeout: 1 })), 'ERR_TIMEOUT');
  assert.ok(ms(t0) < budget(0, 3), `timeout took ${ms(t0)} ms`);
  const audio = await makeMedia({ out: path.join(dir, 'audio.m4a'), seconds: 2, video: false });
  assert.is(await code(snapshot(audio)), 'ERR_NO_VIDEO');
  const ac = new AbortController();
  t0 = Date.now();
  setTimeout(() => ac.abort(), 200);
  assert.is(await code(snapshot(`udp://127.0.0.1:${silent}`, { timeout: 30, signal: ac.signal })), 'ERR_ABORTED');
  assert.ok(ms(t0) < budget(0, 3));
  assert.is(await code(snapshot(file, { timeout: -1 })), 'ERR_INVALID_ARG');
  assert.is(await code(snapshot(file, { quality: 0 })), 'ERR_INVALID_ARG');
  assert.is(await code(snapshot(file, { widht: 10 })), 'ERR_INVALID_ARG');
  const e = await snapshot(file, { widht: 10 }).catch((err) => err);
  assert.match(e.message, /widht/);
  assert.match(e.stack, /snapshot\.test\.mjs/);
});

test.run();
