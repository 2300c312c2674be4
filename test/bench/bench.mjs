// Benchmark: av-rewind next to the ffmpeg CLI doing the same job on the same input, in the same run.
// Usage: npm run bench            (BENCH_SECONDS=60 npm run bench for a quick run)
// Not part of `npm test` (test/run.mjs only picks up *.test.mjs). Progress goes to stderr, results to stdout.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
// Package self-reference (resolves through package.json "exports" to dist/), like the tests do.
import { Recorder, versions } from 'av-rewind';
import { tmpDir } from '../helpers/media.mjs'; // removed on exit

const HERE = path.dirname(new URL(import.meta.url).pathname);

const SECONDS = Number(process.env.BENCH_SECONDS ?? 300);
if (!(SECONDS > 0)) throw new Error(`BENCH_SECONDS must be a positive number, got ${process.env.BENCH_SECONDS}`);
const RUNS = 3;
// superfast: ~1/5 real time for 1080p30 on 2 cores, and its rate control holds 6 Mb/s (ultrafast overshoots).
const MEDIA = { width: 1920, height: 1080, fps: 30, gopSeconds: 2, bitrate: '6M', preset: 'superfast' };

const log = (...a) => console.error('[bench]', ...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const MB = 1024 * 1024;

// ---------------------------------------------------------------- child processes (always with a timeout)

const children = new Set();
process.on('exit', () => { for (const c of children) try { c.kill('SIGKILL'); } catch {} });

function run(cmd, args, { timeout = 120_000, onStdout } = {}) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let out = '', err = '';
    c.stdout.setEncoding('utf8').on('data', (d) => { out += d; onStdout?.(d); });
    c.stderr.setEncoding('utf8').on('data', (d) => { err = (err + d).slice(-4000); });
    const timer = setTimeout(() => c.kill('SIGKILL'), timeout);
    c.on('error', reject);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(c);
      const wall = (performance.now() - t0) / 1000;
      if (signal) reject(new Error(`${cmd} killed (${signal}, timeout ${timeout} ms): ${args.join(' ')}`));
      else if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${args.join(' ')}\n${err}`));
      else resolve({ out, wall });
    });
  });
}

// CPU time of an ffmpeg run: bash's `times` prints the user/sys of its finished children on its 2nd line.
async function ffmpegCpu(args, timeout) {
  const { out, wall } = await run('bash', ['-c', '"$@" >/dev/null || exit; times', 'bash', 'ffmpeg', ...args], { timeout });
  const secs = [...out.trim().split('\n')[1].matchAll(/(\d+)m([\d.]+)s/g)].map((m) => +m[1] * 60 + +m[2]);
  if (secs.length !== 2) throw new Error(`cannot parse bash times output: ${out}`);
  return { cpu: secs[0] + secs[1], wall };
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- test media (cached across runs)

async function benchMedia() {
  const { width, height, fps, gopSeconds, bitrate, preset } = MEDIA;
  const dir = path.join(os.tmpdir(), 'av-rewind-bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `testsrc2-${width}x${height}p${fps}-${SECONDS}s-${bitrate}-gop${gopSeconds}s-${preset}.mp4`);
  if (fs.existsSync(file)) { log(`using cached ${file}`); return file; }
  const part = `${file}.part.mp4`; // renamed when complete, so an interrupted run never leaves a bad cache
  const gop = String(fps * gopSeconds);
  log(`encoding ${SECONDS} s of ${width}x${height}p${fps} at ${bitrate}b/s (${preset}) -> ${file}`);
  let shown = 0;
  const { wall } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-c:v', 'libx264', '-preset', preset, '-pix_fmt', 'yuv420p',
    '-b:v', bitrate, '-maxrate', bitrate, '-bufsize', '12M',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
    '-t', String(SECONDS), '-progress', 'pipe:1', part], {
    timeout: 120_000 + SECONDS * 3000,
    onStdout: (d) => {
      const us = [...d.matchAll(/out_time_us=(\d+)/g)].pop()?.[1];
      const pct = us ? Math.floor((us / 1e6 / SECONDS) * 10) * 10 : 0;
      if (pct > shown) { shown = pct; log(`  encoded ${pct}%`); }
    },
  });
  fs.renameSync(part, file);
  log(`encoded in ${wall.toFixed(1)} s`);
  return file;
}

// Read the input once so both sides find it in the page cache; one reused buffer, so no garbage
// is left for a GC to collect during the measurements.
function warmCache(file) {
  const fd = fs.openSync(file, 'r'), buf = Buffer.allocUnsafe(8 * MB);
  try { while (fs.readSync(fd, buf, 0, buf.length, null) > 0); } finally { fs.closeSync(fd); }
}

// Flush dirty pages (the freshly encoded input, the previous save) so that kernel writeback
// doesn't slow the next timed step (without it, the first save after the encode took ~5x the median).
const settle = () => run('sync', [], { timeout: 60_000 });

// ---------------------------------------------------------------- measurements

async function ingest(file) {
  const rec = new Recorder({ source: file, bufferSeconds: SECONDS + 100, maxBufferBytes: 2 ** 31 - 1, statsInterval: 0 });
  try {
    const ended = new Promise((resolve, reject) => rec.once('end', ({ error }) => (error ? reject(error) : resolve())));
    ended.catch(() => {}); // raced below; avoid an unhandled rejection if start() fails first
    const rss0 = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage(); // counts every thread of the process, including the native ingest thread
    const t0 = performance.now();
    await withTimeout(rec.start(), 30_000, 'Recorder.start');
    await withTimeout(ended, 60_000 + SECONDS * 1000, 'ingest to end');
    const cpu = process.cpuUsage(cpu0);
    const wall = (performance.now() - t0) / 1000;
    await sleep(100); // let the allocator settle before reading RSS
    const rss = process.memoryUsage().rss - rss0;
    return { rec, cpu: (cpu.user + cpu.system) / 1e6, wall, rss, stats: rec.stats };
  } catch (e) {
    await rec.stop();
    throw e;
  }
}

// One save each, ours then ffmpeg's, RUNS times, outputs deleted in between (same dir, same disk).
async function saves(rec, file, dir) {
  const ours = [], theirs = [];
  for (let i = 0; i < RUNS; i++) {
    const out = path.join(dir, 'ours.mp4');
    await settle();
    const h = monitorEventLoopDelay({ resolution: 1 });
    h.enable();
    const t0 = performance.now();
    const clip = await withTimeout(rec.saveLast(SECONDS, out), 120_000, 'saveLast');
    const wall = (performance.now() - t0) / 1000;
    h.disable();
    ours.push({ wall, bytes: fs.statSync(out).size, duration: clip.duration, maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 });
    fs.rmSync(out);

    const ref = path.join(dir, 'ffmpeg.mp4');
    await settle();
    const r = await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-c', 'copy', ref], { timeout: 120_000 });
    theirs.push({ wall: r.wall, bytes: fs.statSync(ref).size });
    fs.rmSync(ref);
    log(`  save ${i + 1}/${RUNS}: ours ${wall.toFixed(3)} s, ffmpeg ${r.wall.toFixed(3)} s`);
  }
  return { ours, theirs };
}

// Audio exports of the whole buffer (the input's 5 minutes): exportMp3 at 192 kb/s CBR beside
// `ffmpeg -i <input> -vn -c:a libmp3lame -b:a 192k`, and libmp3lame alone (ffmpeg encoding the already
// decoded PCM: the encoder's share of the time); exportAudio to .m4a beside `ffmpeg -vn -c:a copy`.
async function audioExports(rec, file, dir) {
  const mp3 = [], ffMp3 = [], copy = [], ffCopy = [];
  const pcm = path.join(dir, 'audio.wav');
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-vn', '-c:a', 'pcm_f32le', pcm], { timeout: 600_000 });
  const lame = [];
  for (let i = 0; i < RUNS; i++) {
    const out = path.join(dir, 'ours.mp3');
    let t0 = performance.now();
    await withTimeout(rec.exportMp3({ last: SECONDS }, out, { bitrate: 192 }), 600_000, 'exportMp3');
    mp3.push((performance.now() - t0) / 1000);
    fs.rmSync(out);
    ffMp3.push((await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-vn', '-c:a', 'libmp3lame', '-b:a', '192k', path.join(dir, 'ff.mp3')], { timeout: 600_000 })).wall);
    lame.push((await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', pcm, '-c:a', 'libmp3lame', '-b:a', '192k', '-f', 'null', '-'], { timeout: 600_000 })).wall);
    const m4a = path.join(dir, 'ours.m4a');
    t0 = performance.now();
    await withTimeout(rec.exportAudio({ last: SECONDS }, m4a), 120_000, 'exportAudio');
    copy.push((performance.now() - t0) / 1000);
    fs.rmSync(m4a);
    ffCopy.push((await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-vn', '-c:a', 'copy', path.join(dir, 'ff.m4a')], { timeout: 120_000 })).wall);
    log(`  exports ${i + 1}/${RUNS}: mp3 ours ${mp3.at(-1).toFixed(2)} s, ffmpeg ${ffMp3.at(-1).toFixed(2)} s, lame alone ${lame.at(-1).toFixed(2)} s; copy ours ${copy.at(-1).toFixed(3)} s, ffmpeg ${ffCopy.at(-1).toFixed(3)} s`);
  }
  fs.rmSync(pcm);
  return { mp3: median(mp3), ffMp3: median(ffMp3), lame: median(lame), copy: median(copy), ffCopy: median(ffCopy) };
}

// Memory in fresh processes (test/bench/memory.mjs): one recorder buffering the whole input, as mp4 and as
// MPEG-TS (the live formats: HLS, UDP, SRT, HTTP-TS), many idle live recorders, and one recorder started
// and stopped 200 times (what stays after stop()).
async function memory(file, dir) {
  const ts = path.join(dir, 'input.ts');
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-c', 'copy', ts], { timeout: 120_000 });
  const small = path.join(dir, 'small.ts');
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi',
    '-i', 'sine=sample_rate=48000', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-c:a', 'aac', '-t', '30', small], { timeout: 120_000 });
  const child = async (...args) => JSON.parse((await run(process.execPath, [path.join(HERE, 'memory.mjs'), ...args], { timeout: 300_000 })).out);
  // The payload, by an independent count: the sizes of every packet as ffprobe lists them.
  const payload = async (f) => (await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=size', '-of', 'csv=p=0', f], { timeout: 120_000 }))
    .out.split('\n').map((n) => parseInt(n, 10)).filter(Number.isFinite).reduce((sum, n) => sum + n, 0);
  const mp4 = { ...(await child('one', file)), payload: await payload(file) };
  const mpegts = { ...(await child('one', ts)), payload: await payload(ts) };
  const many = await child('many', small, '16');
  const cycles = await child('cycles', small, '200');
  fs.rmSync(ts);
  return { mp4, mpegts, many, cycles };
}

// Event-loop delay of a loop doing nothing but the histogram's own timer, for `seconds`.
async function idleLoopDelay(seconds) {
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  await sleep(seconds * 1000);
  h.disable();
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 };
}

// The audio meter: process CPU to buffer the input with and without the meter (median of 3 fresh
// processes each; the difference is the meter), beside ffmpeg's astats on the same audio. Then the spike
// latency on speech with bursts every 3 s, read in real time.
async function meter(file, dir) {
  const child = async (...args) => JSON.parse((await run(process.execPath, [path.join(HERE, 'meter.mjs'), ...args], { timeout: 600_000 })).out);
  const withMeter = [], without = [], astats = [];
  let windows = 0;
  for (let i = 0; i < RUNS; i++) {
    without.push((await child('cpu', file, '0')).cpu);
    const m = await child('cpu', file, '1');
    withMeter.push(m.cpu);
    windows = m.windows;
    astats.push((await ffmpegCpu(['-nostdin', '-v', 'error', '-vn', '-i', file, '-af', 'astats=metadata=1:reset=1', '-f', 'null', '-'], 600_000)).cpu);
  }
  const { speech, loop, burst, mix, scale, encode } = await import('../helpers/audio.mjs');
  const x = loop(await speech(dir), 30);
  scale(x, 0, 30, -16);
  const bursts = [];
  for (let t = 3; t < 29; t += 3) {
    mix(x, burst(10 ** (-2.5 / 20), t), t);
    bursts.push(t);
  }
  const talk = await encode(x, path.join(dir, 'talk.ts'), { video: true });
  const lat = await child('latency', talk, bursts.join(','));
  return { meterCpu: median(withMeter) - median(without), astatsCpu: median(astats), windows, latencies: lat.latencies, others: lat.others, bursts: bursts.length };
}

// Frame grabs (test/bench/frames.mjs): 'keyframe' and worst-case 'latest' (the newest packet is the last
// of a GOP) on the first 10 s of the input, beside (a) the ffmpeg CLI taking one frame from the same input
// served live over HLS and (b) the ffmpeg CLI decoding the same GOP prefix from a file to one JPEG. Then
// the CPU of captureFrames every 10 s and of frames({ fps: 5 }) on the input read in real time.
async function frameGrabs(file, dir) {
  const child = async (...args) => JSON.parse((await run(process.execPath, [path.join(HERE, 'frames.mjs'), ...args], { timeout: 600_000 })).out);
  const cut = path.join(dir, 'first10s.mp4'), gop = path.join(dir, 'lastgop.mp4');
  // Exactly 5 GOPs of video: the newest packet is the last of a GOP.
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', file, '-map', '0:v', '-frames:v', String(5 * MEDIA.fps * MEDIA.gopSeconds), '-c', 'copy', cut]);
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-ss', '8', '-i', cut, '-an', '-c', 'copy', gop]);
  const lat = await child('latency', cut);
  const frames = MEDIA.fps * MEDIA.gopSeconds;
  if (lat.latestAt < lat.keyAt + (frames - 1.5) / MEDIA.fps) throw new Error(`'latest' was not the last of a GOP: ${JSON.stringify(lat)}`);
  const decodeGop = [], live = [];
  for (let i = 0; i < RUNS; i++) {
    decodeGop.push((await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', gop, '-vf', `select=eq(n\\,${frames - 1})`, '-frames:v', '1', '-q:v', '2', path.join(dir, 'b.jpg')])).wall);
  }
  // A live MPEG-TS stream over TCP, as an encoder serves it: a client joins mid-GOP and waits for the
  // next keyframe (an HLS client starts at a segment, on a keyframe, from a playlist of past ones).
  const { startTcpTs } = await import('../helpers/media.mjs');
  const tcp = await startTcpTs({ file });
  try {
    for (let i = 0; i < RUNS; i++) {
      await sleep(500 + 300 * i); // join at different points of the GOP
      live.push((await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', tcp.url, '-frames:v', '1', path.join(dir, 'a.jpg')], { timeout: 60_000 })).wall);
    }
  } finally {
    await tcp.stop();
  }
  const CPU_SECONDS = Math.min(60, SECONDS);
  const none = await child('cpu', file, 'none', String(CPU_SECONDS));
  const capture = await child('cpu', file, 'capture', String(CPU_SECONDS));
  const preview = await child('cpu', file, 'frames', String(CPU_SECONDS));
  return { lat, decodeGop: median(decodeGop), live: median(live), none, capture, preview, cpuSeconds: CPU_SECONDS };
}

// Continuous recording (test/bench/recording.mjs): process CPU to buffer the input with and without the
// disk recorder (60 s segments), and bytes written, beside `ffmpeg -c copy -f segment -segment_time 60`.
async function recording(file, dir) {
  const recDir = path.join(dir, 'recordings'), ffDir = path.join(dir, 'ffsegments');
  fs.mkdirSync(ffDir, { recursive: true });
  const r = JSON.parse((await run(process.execPath, [path.join(HERE, 'recording.mjs'), file, recDir, '60', '120'], { timeout: 600_000 })).out);
  const ff = await ffmpegCpu(['-nostdin', '-v', 'error', '-i', file, '-map', '0', '-c', 'copy', '-f', 'segment', '-segment_time', '60', '-reset_timestamps', '1', path.join(ffDir, 'seg%03d.mp4')], 600_000);
  const ffBytes = fs.readdirSync(ffDir).reduce((s, f) => s + fs.statSync(path.join(ffDir, f)).size, 0);
  fs.rmSync(recDir, { recursive: true, force: true });
  fs.rmSync(ffDir, { recursive: true, force: true });
  return { ...r, ffCpu: ff.cpu, ffBytes };
}

// footage() of 10 minutes across disk segments and the memory buffer (test/bench/footage.mjs), beside
// `ffmpeg -ss … -t … -c copy` of the same range from the segments. Needs 30 s of real time.
const FOOTAGE_RUNS = 5; // page-cache-bound writes of 460 MB vary by ±20 % from run to run
async function footageBench(file, dir) {
  const fdir = path.join(dir, 'footage');
  fs.mkdirSync(fdir, { recursive: true });
  try {
    return JSON.parse((await run(process.execPath, [path.join(HERE, 'footage.mjs'), file, fdir, '600', '30', String(FOOTAGE_RUNS)], { timeout: 600_000 })).out);
  } finally {
    fs.rmSync(fdir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

const file = await benchMedia();
const outDir = tmpDir('av-rewind-bench-out-');
warmCache(file);
const mediaMB = fs.statSync(file).size / MB;

await settle();
log('ingest: ffmpeg -c copy -f null -');
const ff = await ffmpegCpu(['-nostdin', '-v', 'error', '-i', file, '-c', 'copy', '-f', 'null', '-'], 60_000 + SECONDS * 1000);
log('ingest: Recorder at full speed');
await settle();
const ing = await ingest(file);
let sv, idle, ex;
try {
  log(`saves: saveLast(${SECONDS}) vs ffmpeg -c copy out.mp4, ${RUNS} runs each`);
  sv = await saves(ing.rec, file, outDir);
  log(`exports: exportMp3 / exportAudio of ${SECONDS} s vs ffmpeg, ${RUNS} runs each`);
  ex = await audioExports(ing.rec, file, outDir);
  idle = await idleLoopDelay(median(sv.ours.map((s) => s.wall)));
} finally {
  await ing.rec.stop();
}
log('memory: one recorder per fresh process (mp4, MPEG-TS), then 1 + 16 idle live recorders');
const mem = await memory(file, outDir);
log('meter: CPU with and without the audio meter, ffmpeg astats; spike latency in real time (30 s)');
const mtr = await meter(file, outDir);
log('recording: disk recorder CPU and bytes beside ffmpeg -f segment');
const rc = await recording(file, outDir);
log('footage: 10 min across disk segments and the memory buffer vs ffmpeg -ss -t -c copy over the segments (30 s real time)');
const ftg = await footageBench(file, outDir);
log('frames: grabFrame latency beside the ffmpeg CLI; CPU of captureFrames and frames() in real time');
const frm = await frameGrabs(file, outDir);

// ---------------------------------------------------------------- report

const perHour = (cpu) => (cpu / SECONDS) * 3600;
const oursSave = median(sv.ours.map((s) => s.wall)), ffSave = median(sv.theirs.map((s) => s.wall));
const oursBytes = sv.ours[0].bytes, ffBytes = sv.theirs[0].bytes;
const worst = (k) => Math.max(...sv.ours.map((s) => s[k]));
const f = (x, d = 2) => x.toFixed(d);
const v = versions();
const machine = `${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}, FFmpeg ${v.ffmpeg} (libavformat ${v.libavformat}), ${os.platform()} ${os.release()}`;
const input = `${SECONDS} s ${MEDIA.width}x${MEDIA.height}p${MEDIA.fps} H.264 ${MEDIA.bitrate}b/s (${MEDIA.gopSeconds} s GOP, ${MEDIA.preset}) + AAC, ${f(mediaMB, 1)} MiB mp4`;

const rows = [
  ['Ingest CPU, s per stream-hour', f(perHour(ing.cpu)), f(perHour(ff.cpu)), f(ing.cpu / ff.cpu)],
  ['Ingest wall, s (speed ×realtime)', `${f(ing.wall)} (${f(SECONDS / ing.wall, 0)}×)`, `${f(ff.wall)} (${f(SECONDS / ff.wall, 0)}×)`, f(ing.wall / ff.wall)],
  ['Buffered payload (stats.bytes), MiB', f(ing.stats.bytes / MB, 1), '', ''],
  ['RSS increase / buffered bytes', `${f(ing.rss / MB, 1)} MiB → ${f(ing.rss / ing.stats.bytes)}`, '', ''],
  ['stats.memory / buffered bytes', `${f(ing.stats.memory / MB, 1)} MiB → ${f(ing.stats.memory / ing.stats.bytes)}`, '', ''],
  [`Save ${SECONDS} s to mp4, median of ${RUNS}, s`, f(oursSave, 3), f(ffSave, 3), f(oursSave / ffSave)],
  ['Save throughput, MB/s (ratio > 1: ours faster)', f(oursBytes / 1e6 / oursSave, 0), f(ffBytes / 1e6 / ffSave, 0), f((oursBytes / oursSave) / (ffBytes / ffSave))],
  ['Output file, MiB / duration s', `${f(oursBytes / MB, 1)} / ${f(sv.ours[0].duration)}`, f(ffBytes / MB, 1), ''],
  ['Event-loop delay during save, max / p99 ms', `${f(worst('maxMs'), 1)} / ${f(worst('p99Ms'), 1)}`, '', ''],
  ['Event-loop delay, idle baseline, max / p99 ms', `${f(idle.maxMs, 1)} / ${f(idle.p99Ms, 1)}`, '', ''],
  ...[['mp4', mem.mp4], ['MPEG-TS', mem.mpegts]].map(([name, m]) => [
    `Fresh process, ${name}: RSS − base / payload (held), MB; goal ≤ 1.03 × payload + 15 MB`,
    `${f(m.rss / 1e6, 1)} / ${f(m.payload / 1e6, 1)} (${f(m.held / 1e6, 1)}) → ${f(m.rss / m.payload, 3)}, ${f((m.rss - 1.03 * m.payload) / 1e6, 1)} MB over 1.03×`, '', '']),
  ['Loading FFmpeg\'s libraries (before any recorder), RSS MiB', f(mem.mp4.library / MB, 1), '', ''],
  ['Idle live recorder: first / each of 16 more, MiB beyond its buffer', `${f((mem.many.first - mem.many.firstHeld) / MB, 2)} / ${f(mem.many.perExtra / MB, 2)}`, '', ''],
  [`exportMp3 of ${SECONDS} s at 192 kb/s, median of ${RUNS}, s (vs ffmpeg -vn -c:a libmp3lame -b:a 192k)`, f(ex.mp3), f(ex.ffMp3), f(ex.mp3 / ex.ffMp3)],
  ['libmp3lame alone on the decoded PCM (ffmpeg), s: its share of our export', f(ex.lame), '', `${f((ex.lame / ex.mp3) * 100, 0)} %`],
  [`exportAudio of ${SECONDS} s to .m4a, median of ${RUNS}, s (vs ffmpeg -vn -c:a copy)`, f(ex.copy, 3), f(ex.ffCopy, 3), f(ex.copy / ex.ffCopy)],
  ['Audio meter CPU, s per stream-hour (vs ffmpeg -vn -af astats)', f(perHour(mtr.meterCpu)), f(perHour(mtr.astatsCpu)), f(mtr.meterCpu / mtr.astatsCpu)],
  [`Spike latency (${mtr.latencies.length} of ${mtr.bursts} bursts found, ${mtr.others.length} other), ms from the event's arrival: median / max`,
    `${f(median(mtr.latencies), 0)} / ${f(Math.max(...mtr.latencies), 0)}`, '', ''],
  ['grabFrame \'keyframe\' to JPEG (1080p), ms, median of 5', f(frm.lat.keyframe, 1), '', ''],
  [`grabFrame 'latest' to JPEG, worst case (newest packet = last of a GOP: ${MEDIA.fps * MEDIA.gopSeconds} frames), ms; vs ffmpeg decoding that GOP from a file to one JPEG`,
    f(frm.lat.latest, 1), f(frm.decodeGop * 1000, 1), f(frm.lat.latest / (frm.decodeGop * 1000))],
  [`One frame from the live source, ms: grabFrame 'keyframe' / 'latest' (worst case) vs ffmpeg -i <live TCP MPEG-TS> -frames:v 1 (median of ${RUNS})`,
    `${f(frm.lat.keyframe, 1)} / ${f(frm.lat.latest, 1)}`, f(frm.live * 1000, 1), `${f(frm.lat.keyframe / (frm.live * 1000), 3)} / ${f(frm.lat.latest / (frm.live * 1000), 3)}`],
  [`captureFrames({ everySeconds: 10 }) CPU, s per hour (${frm.capture.frames} frames, ${frm.capture.decoded} decoded in ${frm.cpuSeconds} s)`, f(((frm.capture.cpu - frm.none.cpu) / frm.cpuSeconds) * 3600), '', ''],
  [`frames({ fps: 5, width: 640 }) CPU, s per hour (${frm.preview.frames} frames, ${frm.preview.decoded} decoded in ${frm.cpuSeconds} s)`, f(((frm.preview.cpu - frm.none.cpu) / frm.cpuSeconds) * 3600), '', ''],
  ['Continuous recording CPU, s per stream-hour (ingest + disk recorder, vs ffmpeg -c copy -f segment)', f(perHour(rc.cpuRecord)), f(perHour(rc.ffCpu)), f(rc.cpuRecord / rc.ffCpu)],
  ['  of which the disk recorder (with minus without), s per stream-hour', f(perHour(rc.cpuRecord - rc.cpuPlain)), '', ''],
  ['Bytes written per hour, GB (fragmented mp4 vs ffmpeg segment mp4)', f((rc.bytes / SECONDS) * 3600 / 1e9), f((rc.ffBytes / SECONDS) * 3600 / 1e9), f(rc.bytes / rc.ffBytes, 3)],
  [`footage() of 10 min (${f(ftg.sources.disk, 0)} s disk + ${f(ftg.sources.memory, 0)} s memory) to one mp4, median of ${FOOTAGE_RUNS}, s (vs ffmpeg -f concat -ss … -t 600 -c copy over the segments)`,
    f(ftg.ours, 3), f(ftg.theirs, 3), f(ftg.ours / ftg.theirs)],
  [`footage() of 18 s from the middle (400 s in) of a 10-min fragmented-mp4 segment, median of ${FOOTAGE_RUNS}, s (vs ffmpeg -ss 400 -i segment -t 18 -c copy)`,
    f(ftg.mid.ours, 3), f(ftg.mid.theirs, 3), f(ftg.mid.ours / ftg.mid.theirs)],
  ['footage() throughput, MB/s (ratio > 1: ours faster)', f(ftg.bytes / 1e6 / ftg.ours, 0), f(ftg.ffBytes / 1e6 / ftg.theirs, 0), f((ftg.bytes / ftg.ours) / (ftg.ffBytes / ftg.theirs))],
  [`Start/stop cycles (${f(mem.cycles.held / MB, 1)} MiB buffer each): RSS − base after ${mem.cycles.points.map(([n]) => n).join(' / ')}, MiB`,
    mem.cycles.points.map(([, b]) => f(b / MB, 1)).join(' / '), '', ''],
];
const head = ['Metric', 'av-rewind', 'ffmpeg CLI', 'ratio (ours/ffmpeg)'];

const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join('  ');
console.log(`\nMachine: ${machine}\nInput:   ${input}\n`);
console.log(line(head));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
rows.forEach((r) => console.log(line(r)));
console.log(`\nSave walls, s: ours ${sv.ours.map((s) => f(s.wall, 3)).join(' ')} | ffmpeg ${sv.theirs.map((s) => f(s.wall, 3)).join(' ')}`);
console.log('Ratios are ours/ffmpeg (lower is better for us), except throughput: ours/ffmpeg speed (higher is better).');

console.log(`\n**Benchmark** — ${input}.  \n${machine}.\n`);
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map((_, i) => (i ? ' ---: ' : ' --- ')).join('|')}|`);
rows.forEach((r) => console.log(`| ${r.map((c) => c || '–').join(' | ')} |`));
