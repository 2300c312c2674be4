// Test-time media, live-stream servers and ffprobe checks for the av-rewind tests.
// Everything generated goes under os.tmpdir(); every child process is SIGKILLed on
// stop() and on process exit, and every wait has a timeout, so a test cannot hang or leak.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SYS_PYTHON = '/usr/bin/python3'; // the pyenv python3 first on PATH has no `gi`

// ---------------------------------------------------------------- time budgets

/**
 * Multiplier for every wall-clock budget in the tests. 1 normally; larger under the sanitizers
 * (AV_REWIND_BINDING pointing at the ASan build, as test/sanitize.sh sets it) and when
 * AV_REWIND_TEST_SLOW is set: to a number > 1 it is the factor, to anything else but 0 it means 4.
 * Only wall-clock allowances (timeouts, how long a child records) scale with it; what a test
 * asserts about the media never does.
 */
export const TIME_SCALE = (() => {
  const slow = process.env.AV_REWIND_TEST_SLOW ?? '';
  if (slow !== '' && slow !== '0') return Number(slow) > 1 ? Number(slow) : 4;
  return /asan/i.test(process.env.AV_REWIND_BINDING ?? '') ? 4 : 1;
})();

/**
 * Wall-clock budget, in ms, for a wait that needs `seconds` of real time (a live source producing
 * that much media, a child process's own fixed waits): twice that, plus `slack` seconds for
 * start-up and a loaded machine, times TIME_SCALE. A budget only bounds how long a test may hang.
 */
export function budget(seconds = 0, slack = 10) {
  return Math.round((2 * seconds + slack) * 1000 * TIME_SCALE);
}

const READY_TIMEOUT = budget(0, 20);

// ---------------------------------------------------------------- cleanup

const children = new Set();
const dirs = new Set();

function cleanup() {
  for (const c of children) try { c.kill('SIGKILL'); } catch {}
  for (const d of dirs) try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
}
process.on('exit', cleanup);
// 'exit' does not fire when a signal kills us: clean up, then re-raise for the default action.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { cleanup(); process.kill(process.pid, sig); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const dead = (c) => c.exitCode !== null || c.signalCode !== null;
const tail = (s, n = 4000) => (s.length > n ? s.slice(-n) : s);

// ---------------------------------------------------------------- basics

/** Fresh directory under os.tmpdir(); removed on process exit. */
export function tmpDir(prefix = 'av-rewind-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.add(dir);
  return dir;
}

const handedOut = new Set(); // never hand out the same port twice in one run

/** A currently free port on 127.0.0.1 ('tcp' or 'udp'). */
export async function freePort(type = 'tcp') {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      if (type === 'udp') {
        const s = dgram.createSocket('udp4');
        s.on('error', reject);
        s.bind(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
      } else {
        const s = net.createServer();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
      }
    });
    if (!handedOut.has(port)) { handedOut.add(port); return port; }
  }
}

/**
 * Polls `fn` until it returns something truthy (resolved with it). Throws from `fn` count as "not yet".
 * `message` may be a function, called on timeout (e.g. to show a child's output at that moment).
 */
export async function waitFor(fn, { timeout = budget(), interval = 50, message } = {}) {
  const end = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { lastErr = e; }
    if (Date.now() >= end) {
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`${what ?? 'waitFor'}: timed out after ${timeout} ms` +
        (lastErr ? ` (last error: ${lastErr.message})` : ''));
    }
    await sleep(interval);
  }
}

/** Settles like `promise`, or rejects once `timeout` ms have passed (for waits on one event). */
export function within(promise, timeout, message = 'within') {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${message}: timed out after ${timeout} ms`)), timeout); }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs a command to completion; rejects on timeout or non-zero exit unless `allowFail`. */
export function run(cmd, args, { timeout = budget(0, 120), allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const c = track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '', err = '';
    c.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    c.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeout);
    c.on('error', (e) => { clearTimeout(timer); reject(e); });
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') reject(new Error(`${cmd} timed out after ${timeout} ms: ${args.join(' ')}`));
      else if (code !== 0 && !allowFail) reject(new Error(`${cmd} exited ${code}: ${args.join(' ')}\n${tail(err)}`));
      else resolve({ code, out, err });
    });
  });
}

function track(c) {
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

/** Starts a long-running server process. It is unref'd so a server a test forgot to stop
 *  can't keep Node alive (the exit handler then kills it). Keeps output tails for errors. */
function launch(cmd, args) {
  const c = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  c.out = ''; c.err = '';
  c.stdout.setEncoding('utf8').on('data', (d) => { c.out = tail(c.out + d); });
  c.stderr.setEncoding('utf8').on('data', (d) => { c.err = tail(c.err + d); });
  c.on('error', (e) => { c.err += `\nspawn error: ${e.message}`; });
  c.unref(); c.stdin.unref(); c.stdout.unref(); c.stderr.unref();
  return c;
}

async function kill(c) {
  if (!c || dead(c)) return;
  c.kill('SIGKILL');
  await waitFor(() => dead(c), { timeout: budget(0, 5), message: `killing pid ${c.pid}` });
}

/**
 * A restartable server process. `spawnFn()` launches it, `ready(child)` says when it serves.
 * `respawn`: start it again whenever it exits on its own (after having been ready), which
 * turns ffmpeg's one-client listeners into servers that accept clients one after another.
 */
function service(name, spawnFn, { ready, respawn = false }) {
  let child = null;
  let stopped = false;

  async function up() {
    const c = (child = spawnFn());
    c.on('exit', () => {
      if (respawn && c.ready && child === c && !stopped) {
        setImmediate(() => { if (child === c && !stopped) up().catch(() => {}); });
      }
    });
    await waitFor(async () => dead(c) || (await ready(c)), {
      timeout: READY_TIMEOUT, message: `${name} not ready`,
    }).catch((e) => { c.kill('SIGKILL'); throw new Error(`${e.message}\n${c.err}`); });
    if (dead(c)) throw new Error(`${name} exited before it was ready (${c.exitCode ?? c.signalCode}):\n${c.err}`);
    c.ready = true;
  }

  return {
    up,
    get child() { return child; },
    async stop() { stopped = true; await kill(child); },
    async restart() {
      const old = child;
      child = null; // so its exit doesn't trigger a respawn
      await kill(old);
      stopped = false;
      await up();
    },
  };
}

/** TCP connections to or from 127.0.0.1:port in the ESTABLISHED state, from /proc (null without it). */
export function established(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((line) => {
      const f = line.trim().split(/\s+/);
      return (f[1]?.endsWith(hex) || f[2]?.endsWith(hex)) && f[3] === '01';
    }).length;
  } catch {
    return null;
  }
}

// Something serving on 127.0.0.1:port (listening, or already connected to its one client)? Read from /proc instead of connecting: ffmpeg's
// -listen servers accept exactly one client and a probe connection would use it up.
function listening(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  try {
    return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').some((line) => {
      const f = line.trim().split(/\s+/);
      // 0A = TCP_LISTEN; 01 = ESTABLISHED: a client (a reconnecting recorder) may have taken the
      // single-client listener between two polls, and then it no longer listens, but it serves.
      return f[1]?.endsWith(hex) && (f[3] === '0A' || f[3] === '01');
    });
  } catch {
    return null; // no /proc (not Linux)
  }
}

// ---------------------------------------------------------------- media

/**
 * Synthetic A/V file: testsrc2 + 440 Hz sine, H.264 (fixed GOP) + AAC 48 kHz stereo.
 * Container from the extension of `out` (.mp4/.ts/.mkv/.flv); default: a tmp .mp4.
 */
export async function makeMedia({
  out, seconds = 20, width = 320, height = 240, fps = 25, gopSeconds = 1,
  audio = true, video = true, bframes = false, bitrate, codec = 'libx264',
} = {}) {
  assert(audio || video, 'makeMedia: need audio or video');
  out ??= path.join(tmpDir('av-rewind-media-'), 'media.mp4');
  const gop = String(Math.max(1, Math.round(fps * gopSeconds)));
  const args = ['-nostdin', '-hide_banner', '-v', 'error', '-y'];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`);
  if (audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000');
  if (video) {
    // bframes: true = 2, or a number (3 and more: x264 makes a B-pyramid, decode order 0 4 2 1 3).
    const bf = String(bframes === true ? 2 : bframes || 0);
    args.push('-c:v', codec, '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
      // Keyframe exactly every gopSeconds: tests can predict where clips may start.
      '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', '-bf', bf);
    if (codec === 'libx265') args.push('-x265-params', `log-level=error:keyint=${gop}:min-keyint=${gop}:scenecut=0:bframes=${bf}`);
    if (bitrate) args.push('-b:v', String(bitrate));
  }
  if (audio) args.push('-c:a', 'aac', '-ar', '48000', '-ac', '2');
  args.push('-t', String(seconds), out);
  await run('ffmpeg', args, { timeout: budget(2.5 * seconds, 60) });
  return out;
}

// The source of every ffmpeg server: `file` looped forever at real-time speed, no re-encode.
const loopInput = (file) => {
  assert(fs.existsSync(file), `no such media file: ${file}`);
  return ['-nostdin', '-hide_banner', '-v', 'error', '-re', '-stream_loop', '-1', '-i', file, '-c', 'copy'];
};

// ---------------------------------------------------------------- servers

const HLS_TYPES = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t' };

/**
 * Live HLS: ffmpeg writes a sliding playlist into a tmp dir; a Node http server serves it.
 * restart() restarts only the ffmpeg writer (the HTTP origin stays up). The new writer
 * continues the segment numbers (so EXT-X-MEDIA-SEQUENCE keeps growing, as with a real
 * packager) and flags its first segment #EXT-X-DISCONTINUITY, since timestamps restart.
 */
export async function startHls({ file }) {
  const dir = tmpDir('av-rewind-hls-');
  const playlist = path.join(dir, 'live.m3u8');
  const listed = () => {
    try { return [...fs.readFileSync(playlist, 'utf8').matchAll(/^seg(\d+)\.ts$/gm)].map((m) => +m[1]); }
    catch { return []; }
  };
  let first = 0; // first segment number of the current writer

  const server = http.createServer((req, res) => {
    // basename(): only files of this dir, whatever the request path says
    const name = path.basename(new URL(req.url, 'http://x').pathname);
    fs.readFile(path.join(dir, name), (err, body) => {
      if (err) return res.writeHead(404).end();
      res.writeHead(200, {
        'content-type': HLS_TYPES[path.extname(name)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  // What the origin sees: connections open now, bytes it sent.
  let open = 0, served = 0;
  server.on('connection', (sock) => {
    open++;
    sock.on('close', () => { open--; served += sock.bytesWritten; });
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address();

  const svc = service('HLS ffmpeg writer', () => {
    first = Math.max(-1, ...listed()) + 1;
    return launch('ffmpeg', [...loopInput(file),
      '-f', 'hls', '-hls_time', '1', '-hls_list_size', '6',
      '-hls_flags', first ? 'delete_segments+discont_start' : 'delete_segments',
      '-start_number', String(first), '-hls_segment_filename', path.join(dir, 'seg%d.ts'), playlist]);
  }, { ready: () => listed().filter((n) => n >= first).length >= 2 }); // ≥2 segments of *this* writer

  const stop = async () => {
    await svc.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(() => r()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try { await svc.up(); } catch (e) { await stop(); throw e; }
  return {
    url: `http://127.0.0.1:${port}/live.m3u8`, port, dir, stop, restart: svc.restart,
    openConnections: () => open, bytesServed: () => served,
  };
}

/** MPEG-TS pushed over UDP to 127.0.0.1:PORT (the client binds PORT and receives). */
export async function startUdpTs({ file }) {
  const port = await freePort('udp');
  const svc = service('UDP TS ffmpeg', () => launch('ffmpeg', [...loopInput(file),
    '-stats_period', '0.1', '-progress', 'pipe:1', // progress on stdout = packets are going out
    '-f', 'mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`]),
  { ready: (c) => /out_time_us=[1-9]/.test(c.out) });
  await svc.up();
  return { url: `udp://127.0.0.1:${port}`, port, stop: svc.stop, restart: svc.restart };
}

// ffmpeg's listen mode is single-client: it accepts one client, closes the listening socket
// (a second concurrent client gets ECONNREFUSED), streams, and exits when the client leaves.
// With respawn (default) a new listener is up on the same port ~0.15 s later, so clients
// can (re)connect one after another; a client retrying sooner sees ECONNREFUSED.
async function startListener(name, port, args, respawn) {
  const t0 = Date.now();
  const svc = service(name, () => launch('ffmpeg', args), {
    respawn,
    // /proc check, no probe connection; without /proc, assume listening after 1 s.
    ready: () => listening(port) ?? Date.now() - t0 > 1000 * TIME_SCALE,
  });
  await svc.up();
  return { port, stop: svc.stop, restart: svc.restart };
}

/** MPEG-TS over TCP; ffmpeg listens (tcp://…?listen=1) and the client connects. Single-client, see above. */
export async function startTcpTs({ file, respawn = true }) {
  const port = await freePort('tcp');
  const s = await startListener('TCP TS ffmpeg', port,
    [...loopInput(file), '-f', 'mpegts', `tcp://127.0.0.1:${port}?listen=1`], respawn);
  return { url: `tcp://127.0.0.1:${port}`, ...s };
}

/** RTMP where ffmpeg is the server (-listen 1) and the client pulls. Single-client, see above. */
export async function startRtmp({ file, respawn = true }) {
  const port = await freePort('tcp');
  const url = `rtmp://127.0.0.1:${port}/live/stream`;
  const s = await startListener('RTMP ffmpeg', port, [...loopInput(file), '-f', 'flv', '-listen', '1', url], respawn);
  return { url, ...s };
}

/**
 * RTSP server (GStreamer, test/helpers/rtsp_server.py) with a live H.264 + AAC test pattern.
 * `transport`: 'tcp' | 'udp' restricts the RTP transports the server accepts (default: both).
 * `audioCodec` is what the server sends ('aac', or 'opus' if no gst AAC encoder is installed).
 */
export async function startRtsp({ transport = 'any' } = {}) {
  const port = await freePort('tcp');
  const svc = service('RTSP server', () => launch(SYS_PYTHON,
    [path.join(HERE, 'rtsp_server.py'), String(port), transport]),
  { ready: (c) => c.out.includes('READY') });
  await svc.up();
  const audioCodec = /audio=(\w+)/.exec(svc.child.out)?.[1];
  return { url: `rtsp://127.0.0.1:${port}/test`, port, audioCodec, stop: svc.stop, restart: svc.restart };
}

// ---------------------------------------------------------------- checks

const num = (v) => (v === undefined || v === null || v === 'N/A' ? null : Number(v));

/** Every packet of a file as ffprobe lists it (stream, pts, dts, duration, size, flags), in file order. */
export async function packetList(file) {
  const { out } = await run('ffprobe',
    ['-v', 'error', '-show_entries', 'packet=stream_index,pts,dts,duration,size,flags', '-of', 'csv=p=0', file],
    { timeout: 60_000 });
  return out.trim().split('\n');
}

/** ffprobe a file: format, streams and every packet (times in seconds). */
export async function probe(file) {
  const { out } = await run('ffprobe',
    ['-v', 'error', '-show_format', '-show_streams', '-show_packets', '-of', 'json', file],
    { timeout: budget(0, 60) });
  const j = JSON.parse(out);
  const packets = {};
  for (const p of j.packets ?? []) {
    (packets[p.stream_index] ??= []).push({
      pts: num(p.pts_time), dts: num(p.dts_time), key: (p.flags ?? '').includes('K'), duration: num(p.duration_time),
    });
  }
  return {
    duration: num(j.format?.duration),
    formatName: j.format?.format_name,
    streams: (j.streams ?? []).map((s) => ({
      index: s.index, codec_type: s.codec_type, codec_name: s.codec_name,
      width: s.width, height: s.height, sample_rate: num(s.sample_rate), channels: s.channels,
      codec_tag_string: s.codec_tag_string,
      start_time: num(s.start_time), duration: num(s.duration),
    })),
    packets,
  };
}

/** What a full decode prints at -v error ('' when the file decodes cleanly). */
export async function decodeErrors(file, { passthrough = false } = {}) {
  // passthrough: frames keep their own timestamps (two frames 1 ms apart would otherwise collide in the
  // CLI's frame-rate time base, which says nothing about the file).
  const { code, err } = await run('ffmpeg',
    ['-nostdin', '-hide_banner', '-v', 'error', '-i', file, ...(passthrough ? ['-fps_mode', 'passthrough', '-enc_time_base:v', '1:90000'] : []), '-f', 'null', '-'],
    { timeout: budget(0, 120), allowFail: true });
  return err.trim() || (code ? `ffmpeg exited ${code}` : '');
}

/** Asserts that `file` is a clip a user would accept; returns its probe(). */
export async function checkClip(file, { seconds, tolerance = 1, video = true, audio = true, passthrough = false } = {}) {
  const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
  assert.ok(size > 0, `${file}: missing or empty`);
  const p = await probe(file);
  if (seconds !== undefined) {
    assert.ok(p.duration !== null && Math.abs(p.duration - seconds) <= tolerance,
      `${file}: duration ${p.duration} s, expected ${seconds} ± ${tolerance} s`);
  }
  const of = (type) => p.streams.filter((s) => s.codec_type === type);
  assert.ok((of('video').length > 0) === video, `${file}: video stream ${video ? 'missing' : 'unexpected'}`);
  assert.ok((of('audio').length > 0) === audio, `${file}: audio stream ${audio ? 'missing' : 'unexpected'}`);
  for (const s of [...of('video'), ...of('audio')]) {
    const pkts = p.packets[s.index] ?? [];
    assert.ok(pkts.length > 0, `${file}: ${s.codec_type} stream #${s.index} has no packets`);
    // Strictly increasing dts (audio: pts will do). Matroska stores no dts, so ffprobe can't
    // derive it for the first few (reorder-delay) B-frame packets: allow leading gaps only.
    const ts = pkts.map((k) => k.dts ?? (s.codec_type === 'audio' ? k.pts : null));
    const lead = ts.findIndex((t) => t !== null);
    assert.ok(lead >= 0 && lead <= 4, `${file}: ${s.codec_type} packets have no dts`);
    for (let i = lead + 1; i < ts.length; i++) {
      assert.ok(ts[i] !== null, `${file}: ${s.codec_type} packet ${i} has no dts`);
      assert.ok(ts[i] > ts[i - 1], `${file}: ${s.codec_type} dts not increasing at packet ${i}: ${ts[i - 1]} -> ${ts[i]}`);
    }
    // dts increases in file order, so pkts[0] is the first in dts order: playback starts there.
    if (s.codec_type === 'video') assert.ok(pkts[0].key, `${file}: first video packet is not a keyframe`);
    const start = s.start_time ?? pkts[0].pts;
    assert.ok(start !== null && Math.abs(start) < 0.5, `${file}: ${s.codec_type} starts at ${start} s, expected ~0`);
  }
  const errors = await decodeErrors(file, { passthrough });
  assert.equal(errors, '', `${file}: decode errors:\n${errors}`);
  return p;
}
