// The whole "last five minutes" program: record a stream; on Enter (or SIGUSR2) save the last 5 minutes
// as MP4 with its audio as MP3 beside it; meanwhile save a frame every N seconds with names that sort
// in time order.
//
//   node --import tsx examples/last5min.ts https://example.com/live.m3u8
//   node --import tsx examples/last5min.ts rtsp://camera.local/stream --seconds 120 --every 30
//   kill -USR2 <pid>          # save from another shell or a motion detector
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { Recorder, RecorderError } from 'av-rewind';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seconds: { type: 'string', default: '300' }, // how much to save
    every: { type: 'string', default: '10' }, // a frame every N seconds (0: none)
    out: { type: 'string', default: 'video_chunks' },
    frames: { type: 'string', default: 'frames' },
    bitrate: { type: 'string', default: '192' }, // MP3 kb/s
  },
});
const [url] = positionals;
if (!url) {
  console.error('usage: node --import tsx examples/last5min.ts <url> [--seconds 300] [--every 10] [--out video_chunks] [--frames frames] [--bitrate 192]');
  process.exit(2);
}
const seconds = Number(values.seconds);
const every = Number(values.every);
await mkdir(values.out, { recursive: true });

const rec = new Recorder({ source: url, bufferSeconds: seconds + 30 });
rec.on('reconnecting', (e) => console.log(`source lost (${e.error.message}); retry ${e.attempt} in ${e.delay} s`));
rec.on('end', ({ error }) => console.log(`source ended${error ? `: ${error.message}` : ''}; the buffer is still saveable`));
try {
  const info = await rec.start();
  console.log(`recording ${info.format}: ${info.streams.map((s) => s.codec).join(' + ')}`);
} catch (err) {
  console.error(err instanceof RecorderError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
}

// Frames from the buffer on the recorder's timeline: a busy moment never skips one.
const capture = every > 0 ? rec.captureFrames({ everySeconds: every, dir: values.frames }) : null;
capture?.on('frame', (f) => console.log(`frame ${f.path}`));
capture?.on('error', (err) => console.error(`frame failed: ${err.code}: ${err.message}`));

async function save(): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(values.out, `last-${stamp}.mp4`);
  try {
    const t0 = Date.now();
    const clip = await rec.saveLast(seconds, file, { mp3: { path: file.replace(/\.mp4$/, '.mp3'), bitrate: Number(values.bitrate) } });
    console.log(`saved ${clip.duration.toFixed(1)} s to ${clip.path} and ${clip.mp3!.path} (${(clip.mp3!.bytes / 1e6).toFixed(1)} MB MP3) in ${Date.now() - t0} ms`);
  } catch (err) {
    console.error(err instanceof RecorderError ? `save failed: ${err.code}: ${err.message}` : err);
  }
}

console.log(`press Enter (or kill -USR2 ${process.pid}) to save the last ${seconds} s as MP4 + MP3; Ctrl-C to quit`);
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', () => void save());
process.on('SIGUSR2', () => void save());
const quit = async () => {
  rl.close();
  await capture?.stop();
  await rec.stop();
  process.exit(0);
};
process.on('SIGINT', () => void quit());
rl.on('close', () => void quit());
