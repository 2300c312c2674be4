// The programs users start from: the demo and save-last run as documented and save playable clips.
// `node --import tsx` keeps them in one process, so signals reach the program itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { budget, checkClip, makeMedia, run as runCmd, startHls, TIME_SCALE, tmpDir, waitFor } from './helpers/media.mjs';
import { burst, encode, loop, mix, scale, speech } from './helpers/audio.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// `timeout` only bounds a hung child: tsx compiles the example at start-up, slowly under ASan.
function run(args, { stdin = false, timeout = budget(0, 30) } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(timer);
    if (signal) out += `\n[test] child ended by ${signal}${signal === 'SIGKILL' ? ` (timeout: ${timeout} ms)` : ''}`;
    resolve(code);
  }));
  return { child, done, output: () => out };
}
const count = (text, re) => (text.match(re) ?? []).length;

test('the demo records the synthetic source and saves the last seconds', async () => {
  const out = tmpDir();
  // The demo records for a fixed time on its own clock, then saves: give it longer where the
  // encoder runs slowly (sanitizers), so the buffer holds the 2 s asked for.
  const record = 3 * TIME_SCALE;
  const demo = run(['examples/demo.ts', '--seconds', '2', '--record', String(record), '--out', out],
    { timeout: budget(record, 30) });
  const code = await demo.done;
  const text = demo.output();
  assert.is(code, 0, text);
  assert.match(text, /encoded once from rawvideo/);
  assert.match(text, /saved the last 2 s in \d+ ms/);
  const [file] = fs.readdirSync(out);
  assert.match(file, /^last-2s-.*\.mp4$/);
  // What the demo reported saving, and the last buffer size it printed before the save (the buffer
  // only grew after that): the clip is the last 2 s from the keyframe at or before their start
  // (the default GOP is 2 s), or all of a buffer that held less.
  const duration = Number(/^\s+([\d.]+) s from /m.exec(text)?.[1]);
  const buffered = [...text.matchAll(/buffered ([\d.]+) s/g)].map((m) => Number(m[1]));
  const atLeast = Math.min(2, buffered.at(-1) ?? 0);
  assert.ok(duration >= atLeast - 0.1 && duration <= 2 + 2 + 0.1,
    `saved ${duration} s; the buffer last held ${buffered.at(-1)} s\n${text}`);
  await checkClip(path.join(out, file), { seconds: duration, tolerance: 0.2 });
});

test('save-last saves on Enter and on SIGUSR2, and quits when stdin closes', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 10, gopSeconds: 1 });
  const out = path.join(dir, 'clips');
  const p = run(['examples/save-last.ts', media, '3', out], { stdin: true });
  // A file is read at full speed: save once all of it is buffered, so every clip is the last 3 s.
  await waitFor(() => /press Enter/.test(p.output()) && /source ended/.test(p.output()),
    { timeout: budget(0, 30), message: () => `save-last never got ready:\n${p.output()}` });
  p.child.stdin.write('\n');
  await waitFor(() => count(p.output(), /saved /g) === 1, { message: () => `no save on Enter:\n${p.output()}` });
  p.child.kill('SIGUSR2');
  await waitFor(() => count(p.output(), /saved /g) === 2, { message: () => `no save on SIGUSR2:\n${p.output()}` });
  p.child.stdin.end();
  assert.is(await p.done, 0, p.output());
  assert.not.match(p.output(), /save failed/);
  const files = fs.readdirSync(out);
  assert.is(files.length, 2, files.join());
  for (const f of files) await checkClip(path.join(out, f), { seconds: 3, tolerance: 1.05 });
});

test('spike-clips prints each spike and saves a clip around it', async () => {
  const dir = tmpDir();
  const x = loop(await speech(dir), 12);
  scale(x, 0, 12, -16);
  mix(x, burst(10 ** (-2.5 / 20), 5), 6);
  const media = await encode(x, path.join(dir, 'talk.ts'), { video: true });
  const out = path.join(dir, 'video_chunks');
  const p = run(['examples/spike-clips.ts', media, '--out', out, '--pre', '1', '--post', '2']);
  const code = await p.done;
  const text = p.output();
  assert.is(code, 0, text);
  assert.is(count(text, /^spike at /gm), 1, text);
  assert.match(text, /spike at 6\.0\d s: peak/, text);
  assert.match(text, /clip for 6\.0\d s: .*spike-.*\.mp4 \(3\.\d s\)/);
  const files = fs.readdirSync(out);
  assert.is(files.length, 1, files.join());
  await checkClip(path.join(out, files[0]), { seconds: 3.5, tolerance: 0.6 });
});

test('frames saves a frame every N seconds with names in time order', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 10, gopSeconds: 1 });
  const hls = await startHls({ file: media });
  const out = path.join(dir, 'frames');
  const p = run(['examples/frames.ts', hls.url, '--every', '1', '--dir', out, '--width', '160', '--count', '3']);
  const code = await p.done;
  await hls.stop();
  const text = p.output();
  assert.is(code, 0, text);
  const files = fs.readdirSync(out);
  assert.is(files.length, 3, `${files.join()}\n${text}`);
  assert.equal(files, [...files].sort());
  assert.is(count(text, /^frame /gm), files.length, text);
  const { out: probe } = await runCmd('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', path.join(out, files[0])]);
  assert.is(probe.trim(), '160,120');
});

test('snapshot grabs, disconnects, and again at the next interval', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 10, gopSeconds: 1 });
  const hls = await startHls({ file: media });
  try {
    const out = path.join(dir, 'snaps');
    const p = run(['examples/snapshot.ts', hls.url, '--every', '1', '--count', '2', '--dir', out]);
    const code = await p.done;
    const text = p.output();
    assert.is(code, 0, text);
    assert.is(count(text, /^saved .*\.jpg \(320x240\) in \d+ ms, read \d+ KB/gm), 2, text);
    assert.is(fs.readdirSync(out).length, 2);
    assert.is(hls.openConnections(), 0);
  } finally {
    await hls.stop();
  }
});

test('last5min saves the last seconds as MP4 with its MP3 beside it, and frames meanwhile', async () => {
  const dir = tmpDir();
  const media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 12, gopSeconds: 1 });
  const hls = await startHls({ file: media });
  const out = path.join(dir, 'video_chunks'), frames = path.join(dir, 'frames');
  const p = run(['examples/last5min.ts', hls.url, '--seconds', '3', '--every', '1', '--out', out, '--frames', frames], { stdin: true });
  try {
    // Once 2 frames are out, more than 3 s are buffered (HLS starts a few segments back).
    await waitFor(() => count(p.output(), /^frame /gm) >= 2 && /press Enter/.test(p.output()),
      { timeout: budget(5, 30), message: () => `last5min never got going:\n${p.output()}` });
    p.child.stdin.write('\n');
    await waitFor(() => /saved |save failed/.test(p.output()), { message: () => `no save:\n${p.output()}` });
    p.child.stdin.end();
    assert.is(await p.done, 0, p.output());
  } finally {
    await hls.stop();
  }
  const text = p.output();
  assert.not.match(text, /save failed|frame failed/);
  const files = fs.readdirSync(out).sort();
  assert.is(files.length, 2, files.join());
  assert.match(files[0], /^last-.*\.mp3$/);
  assert.match(files[1], /^last-.*\.mp4$/);
  await checkClip(path.join(out, files[1]), { seconds: 3, tolerance: 1.05 });
  const { out: d } = await runCmd('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name:format=duration', '-of', 'json', path.join(out, files[0])]);
  assert.is(JSON.parse(d).streams[0].codec_name, 'mp3');
  const shots = fs.readdirSync(frames);
  assert.ok(shots.length >= 2, shots.join());
  assert.equal(shots, [...shots].sort());
});

test.run();
