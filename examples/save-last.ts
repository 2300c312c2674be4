// Record a URL and save the last N seconds each time you press Enter (or send SIGUSR2).
//
//   node --import tsx examples/save-last.ts rtsp://camera.local/stream 30
//   kill -USR2 <pid>          # from another shell or a motion detector
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Recorder, RecorderError } from 'av-rewind';

const [url, secondsArg = '30', outDir = 'clips'] = process.argv.slice(2);
if (!url) {
  console.error('usage: node --import tsx examples/save-last.ts <url-or-file> [seconds=30] [out-dir=clips]');
  process.exit(2);
}
const seconds = Number(secondsArg);

const rec = new Recorder({ source: url, bufferSeconds: Math.max(seconds, 60) });
rec.on('reconnecting', (e) => console.log(`source lost (${e.error.message}); retry ${e.attempt} in ${e.delay} s`));
rec.on('reconnected', () => console.log('reconnected'));
rec.on('end', ({ error }) => console.log(`source ended${error ? `: ${error.message}` : ''}; the buffer is still saveable`));

async function save(): Promise<void> {
  const file = path.join(outDir, `clip-${new Date().toISOString().replace(/[:.]/g, '-')}.mp4`);
  try {
    const clip = await rec.saveLast(seconds, file);
    console.log(`saved ${clip.duration.toFixed(1)} s (${(clip.bytes / 1e6).toFixed(1)} MB) to ${clip.path}`);
  } catch (err) {
    console.error(err instanceof RecorderError ? `save failed: ${err.code}: ${err.message}` : err);
  }
}

await mkdir(outDir, { recursive: true });
try {
  const info = await rec.start();
  console.log(`recording ${info.format}: ${info.streams.map((s) => s.codec).join(' + ')}`);
} catch (err) {
  console.error(err instanceof RecorderError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
}
console.log(`press Enter (or kill -USR2 ${process.pid}) to save the last ${seconds} s; Ctrl-C to quit`);

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', () => void save());
process.on('SIGUSR2', () => void save());
const quit = async () => {
  rl.close();
  await rec.stop();
  process.exit(0);
};
process.on('SIGINT', quit);
rl.on('close', () => void quit());
