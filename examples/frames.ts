// Save a frame from a live source every N seconds, with names that sort in time order. Frames come from
// the in-memory buffer on the recorder's own timeline, so a busy machine delays a frame but never skips
// one; when the interval spans a GOP only keyframes are decoded.
//
//   node --import tsx examples/frames.ts rtsp://camera.local/stream --every 10 --dir frames
//   node --import tsx examples/frames.ts https://example.com/live.m3u8 --every 2 --count 5
import { parseArgs } from 'node:util';
import { Recorder, RecorderError } from 'av-rewind';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    every: { type: 'string', default: '10' },
    dir: { type: 'string', default: 'frames' },
    format: { type: 'string', default: 'jpeg' },
    width: { type: 'string' },
    count: { type: 'string' }, // stop after this many frames (default: until Ctrl-C or the source ends)
  },
});
const [url] = positionals;
if (!url) {
  console.error('usage: node --import tsx examples/frames.ts <url-or-file> [--every 10] [--dir frames] [--format jpeg|png] [--width N] [--count N]');
  process.exit(2);
}
const every = Number(values.every);
const count = values.count === undefined ? Infinity : Number(values.count);

const rec = new Recorder({ source: url, bufferSeconds: Math.max(60, every * 3) });
rec.on('reconnecting', (e) => console.log(`source lost (${e.error.message}); retry ${e.attempt} in ${e.delay} s`));
try {
  const info = await rec.start();
  console.log(`recording ${info.format}: ${info.streams.map((s) => s.codec).join(' + ')}`);
} catch (err) {
  console.error(err instanceof RecorderError ? `${err.code}: ${err.message}` : err);
  process.exit(1);
}

const cap = rec.captureFrames({
  everySeconds: every,
  dir: values.dir,
  format: values.format as 'jpeg' | 'png',
  ...(values.width ? { width: Number(values.width) } : {}),
});
let saved = 0;
const quit = async (code = 0) => {
  await cap.stop();
  await rec.stop();
  process.exit(code);
};
cap.on('frame', (f) => {
  console.log(`frame ${f.path} (${f.width}x${f.height}${f.keyframe ? ', keyframe' : ''}, ${f.time?.toISOString() ?? `${f.timeline.toFixed(3)} s`})`);
  if (++saved >= count) void quit();
});
// A failed write (disk full, a removed dir) is reported; capture goes on with the next frame.
cap.on('error', (err) => console.error(`frame failed: ${err.code}: ${err.message}`));
rec.on('end', ({ error }) => {
  console.log(`source ended${error ? `: ${error.message}` : ''}`);
  setTimeout(() => void quit(), 500); // the last instants are still in the buffer
});
process.on('SIGINT', () => void quit());
console.log(`a frame every ${every} s into ${values.dir}/; Ctrl-C to quit`);
