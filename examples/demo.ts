// The av-rewind demo: record a live source into memory, save the last N seconds, print what was saved.
//
//   npm run demo                                  # built-in synthetic live source (no camera, no network)
//   npm run demo -- --source rtsp://cam/stream    # anything FFmpeg opens
//   npm run demo -- --seconds 5 --record 8 --out clips
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Recorder, RecorderError, syntheticSource } from 'av-rewind';

const { values: args } = parseArgs({
  options: {
    source: { type: 'string' },
    format: { type: 'string' },
    seconds: { type: 'string', default: '10' },
    record: { type: 'string' },
    out: { type: 'string', default: 'clips' },
  },
});
const seconds = Number(args.seconds);
const recordFor = Number(args.record ?? seconds + 2);

const source = args.source ? { source: args.source, format: args.format } : syntheticSource();
const rec = new Recorder({ ...source, bufferSeconds: Math.max(60, seconds * 2) });
rec.on('reconnecting', (e) => console.log(`\nsource lost (${e.error.message}); retry ${e.attempt} in ${e.delay} s`));
rec.on('reconnected', (e) => console.log(`\nreconnected${e.gap ? `, gap of ${(e.gap.to - e.gap.from).toFixed(1)} s` : ''}`));

try {
  console.log(`recording ${args.source ?? 'the synthetic live source (lavfi testsrc2 + sine)'}`);
  const info = await rec.start();
  for (const s of info.streams) {
    const what = s.type === 'video' ? `${s.width}x${s.height} @ ${s.fps?.toFixed(2)} fps` : `${s.sampleRate} Hz, ${s.channelLayout}`;
    console.log(`  ${s.type}: ${s.codec} ${what}${s.encodedFrom ? ` (encoded once from ${s.encodedFrom})` : ''}`);
  }
  rec.on('stats', (s) => {
    const line = `  buffered ${s.bufferedSeconds.toFixed(1)} s, ${(s.bytes / 1e6).toFixed(2)} MB in ${s.gops} GOPs, ${(s.bitrate / 1e6).toFixed(2)} Mb/s`;
    process.stdout.write(process.stdout.isTTY ? `\r${line}` : `${line}\n`);
  });
  await new Promise((r) => setTimeout(r, recordFor * 1000));

  rec.removeAllListeners('stats');
  await mkdir(args.out, { recursive: true });
  const file = path.join(args.out, `last-${seconds}s-${new Date().toISOString().replace(/[:.]/g, '-')}.mp4`);
  const t0 = performance.now();
  const clip = await rec.saveLast(seconds, file, { faststart: true });
  const ms = performance.now() - t0;
  console.log(`\nsaved the last ${clip.requested} s in ${ms.toFixed(0)} ms:`);
  console.log(`  ${clip.path}`);
  const span = clip.start && clip.end
    ? `${clip.start.toISOString()} to ${clip.end.toISOString()}`
    : `${clip.timeline.start.toFixed(2)} s to ${clip.timeline.end.toFixed(2)} s of the recording (a file has no wall clock)`;
  console.log(`  ${clip.duration.toFixed(2)} s from ${span}`);
  console.log(`  ${(clip.bytes / 1e6).toFixed(2)} MB, ${clip.packets} packets, ${clip.streams.map((s) => s.codec).join(' + ')}, no re-encoding`);
} catch (err) {
  if (err instanceof RecorderError) console.error(`\n${err.code}: ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
} finally {
  await rec.stop();
}
