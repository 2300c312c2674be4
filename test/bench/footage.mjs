// footage() across disk and memory, run by bench.mjs as a child. Prints one JSON line.
//   node test/bench/footage.mjs <file> <dir> <footageSeconds> <liveSeconds> <runs>
// The disk: <file> looped and cut by the ffmpeg CLI into 60 s mp4 segments named and indexed as an
// earlier run of the disk recorder would have left them, ending when the live recorder starts. The
// memory: the same file served live over TCP MPEG-TS (real time) for <liveSeconds>. Then the last
// <footageSeconds> as one clip, beside `ffmpeg -ss … -t … -c copy` of the same range from the segments
// (every segment in the folder, the live recorder's own included, through the concat demuxer). And 18 s
// from the middle of a 10-minute segment beside `ffmpeg -ss … -t 18 -c copy`.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Recorder } from 'av-rewind';
import { startTcpTs } from '../helpers/media.mjs';

const [file, dir, footageArg, liveArg, runsArg] = process.argv.slice(2);
const FOOTAGE = Number(footageArg), LIVE = Number(liveArg), RUNS = Number(runsArg);
const SEGMENT = 60;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`))));
  });
}
const probeDuration = async (f) => Number(await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f]));
const stamp = (ms) => {
  const d = new Date(ms), p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
};

// The disk part: enough 60 s segments to cover the range, named by their start, indexed.
const recDir = path.join(dir, 'recordings'), cut = path.join(dir, 'cut');
fs.mkdirSync(recDir, { recursive: true });
fs.mkdirSync(cut, { recursive: true });
const diskSeconds = Math.ceil(FOOTAGE / SEGMENT) * SEGMENT;
await run('ffmpeg', ['-nostdin', '-v', 'error', '-stream_loop', '-1', '-i', file, '-t', String(diskSeconds), '-map', '0', '-c', 'copy',
  '-f', 'segment', '-segment_time', String(SEGMENT), '-reset_timestamps', '1', path.join(cut, 'seg%03d.mp4')]);
const cuts = fs.readdirSync(cut).sort();
const durations = await Promise.all(cuts.map((f) => probeDuration(path.join(cut, f))));
const liveStart = Date.now() + 1000; // about when the live recorder's first packet arrives
let t = liveStart - durations.reduce((a, b) => a + b, 0) * 1000;
const index = [];
for (let i = 0; i < cuts.length; i++) {
  const name = `recording_${stamp(t)}.mp4`;
  fs.renameSync(path.join(cut, cuts[i]), path.join(recDir, name));
  const end = t + durations[i] * 1000;
  index.push({ file: name, start: new Date(t).toISOString(), end: new Date(end).toISOString(), bytes: fs.statSync(path.join(recDir, name)).size, duration: durations[i], complete: true });
  t = end;
}
fs.writeFileSync(path.join(recDir, 'recording_index.json'), JSON.stringify(index));

// The memory part: live, in real time.
const server = await startTcpTs({ file });
const rec = new Recorder({ source: server.url, bufferSeconds: LIVE + 60, statsInterval: 0, record: { dir: recDir, segmentSeconds: 600 } });
await rec.start();
await sleep(LIVE * 1000);

const ours = [], theirs = [];
let result;
try {
  for (let i = 0; i < RUNS; i++) {
    const to = Date.now(), from = to - FOOTAGE * 1000;
    const out = path.join(dir, 'footage.mp4');
    const t0 = performance.now();
    result = await rec.footage({ from, to }, out);
    ours.push({ wall: (performance.now() - t0) / 1000, bytes: result.bytes });
    fs.rmSync(out);

    // The CLI: the same range from the segment files (the live one as far as it is on disk).
    const segs = rec.recordings();
    const list = path.join(dir, 'list.txt');
    fs.writeFileSync(list, segs.map((s) => `file '${s.file}'\n`).join(''));
    const ffOut = path.join(dir, 'ffmpeg.mp4');
    const t1 = performance.now();
    await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-f', 'concat', '-safe', '0', '-ss', String((from - segs[0].start.getTime()) / 1000),
      '-i', list, '-t', String(FOOTAGE), '-map', '0', '-c', 'copy', ffOut]);
    theirs.push({ wall: (performance.now() - t1) / 1000, bytes: fs.statSync(ffOut).size, duration: await probeDuration(ffOut) });
    fs.rmSync(ffOut);
  }
} finally {
  await rec.stop();
  await server.stop();
}
// 18 s from the middle of one 10-minute segment (the camera API's typical call), standalone, beside
// `ffmpeg -ss 400 -i segment -t 18 -c copy`: the clip should cost what it holds, not the segment's prefix.
const longDir = path.join(dir, 'long');
fs.mkdirSync(longDir, { recursive: true });
const t0 = new Date(2024, 4, 17, 10, 20, 0).getTime();
const longName = `recording_${stamp(t0)}.mp4`;
await run('ffmpeg', ['-nostdin', '-v', 'error', '-stream_loop', '-1', '-i', file, '-t', '600', '-map', '0', '-c', 'copy',
  '-movflags', '+frag_keyframe+empty_moov+delay_moov+default_base_moof', '-frag_duration', '1000000', path.join(longDir, longName)]);
const longDuration = await probeDuration(path.join(longDir, longName));
fs.writeFileSync(path.join(longDir, 'recording_index.json'), JSON.stringify([{ file: longName, start: new Date(t0).toISOString(),
  end: new Date(t0 + longDuration * 1000).toISOString(), bytes: fs.statSync(path.join(longDir, longName)).size, duration: longDuration, complete: true }]));
const { footage } = await import('av-rewind');
const midOurs = [], midTheirs = [];
for (let i = 0; i < RUNS; i++) {
  const out = path.join(dir, 'mid.mp4');
  const t1 = performance.now();
  await footage(longDir, { from: t0 + 400_000, to: t0 + 418_000 }, out);
  midOurs.push((performance.now() - t1) / 1000);
  fs.rmSync(out);
  const t2 = performance.now();
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-ss', '400', '-i', path.join(longDir, longName), '-t', '18', '-map', '0', '-c', 'copy', out]);
  midTheirs.push((performance.now() - t2) / 1000);
  fs.rmSync(out);
}

console.log(JSON.stringify({
  mid: { ours: median(midOurs), theirs: median(midTheirs) },
  ours: median(ours.map((o) => o.wall)), theirs: median(theirs.map((o) => o.wall)),
  bytes: ours[0].bytes, ffBytes: theirs[0].bytes, duration: result.duration, ffDuration: theirs[0].duration,
  sources: result.sources, missing: result.missing.length, walls: { ours: ours.map((o) => o.wall), theirs: theirs.map((o) => o.wall) },
}));
