// Clips around loud moments of a live stream: a YouTube live (or any page yt-dlp knows), or any URL or
// file FFmpeg opens. Every spike (a bang, a clap, a shout: see the README's "Spikes") saves
// [spike − 5 s, spike + 15 s] from memory, without downloading anything twice and without re-encoding.
//
//   npx tsx examples/spike-clips.ts https://www.youtube.com/watch?v=LIVE_ID
//   npx tsx examples/spike-clips.ts rtsp://camera/stream --out video_chunks --rise 12
//   npx tsx examples/spike-clips.ts            # the built-in synthetic source (it beeps once a second)
import { parseArgs } from 'node:util';
import { Recorder, RecorderError, syntheticSource, type RecorderOptions } from 'av-rewind';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string', default: 'video_chunks' },
    rise: { type: 'string' },
    threshold: { type: 'string' },
    gap: { type: 'string', default: '20' },
    pre: { type: 'string', default: '5' },
    post: { type: 'string', default: '15' },
    seconds: { type: 'string' }, // stop after this long (default: until Ctrl-C)
  },
});
const url = positionals[0];
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

// Pages (YouTube and the rest) go through yt-dlp; media URLs, devices and files are opened directly.
const isPage = (u: string) => /^https?:\/\//.test(u) && !/\.(m3u8|ts|mp4|flv|mkv)(\?|$)/i.test(u);
const source: RecorderOptions = url
  ? { source: url, ...(isPage(url) ? { ytdlp: true } : {}) }
  : { ...syntheticSource({ width: 640, height: 360 }) };
const rec = new Recorder({ ...source, bufferSeconds: 120, statsInterval: 0 });

rec.on('reconnecting', (e) => console.log(`source lost (${e.error.message}); retry ${e.attempt} in ${e.delay} s`));
rec.on('reconnected', () => console.log('reconnected'));
rec.on('end', ({ error }) => {
  console.log(`the source ended${error ? ` (${error.message})` : ''}`);
  void stop();
});
rec.on('warning', (w) => console.log(`warning ${w.code}: ${w.message}`));
rec.on('error', (err) => console.error(`error ${err.code}: ${err.message}`)); // a clip that failed; recording goes on
rec.on('clip', ({ spike, clip }) =>
  console.log(`  clip for ${spike.timeline.toFixed(2)} s: ${clip.path} (${clip.duration.toFixed(1)} s${clip.truncated ? ', cut short' : ''})`),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping (a clip waiting for its post-roll is saved as it is)');
  await rec.stop();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

// Attached before start(): the meter runs from the first packet.
rec.onSpike(
  (s) => {
    const when = s.time ? s.time.toISOString() : `${s.timeline.toFixed(2)} s`;
    console.log(`spike at ${when}: peak ${s.peakDb.toFixed(1)} dBFS, ${(s.peakDb - s.baselineDb).toFixed(1)} dB over the baseline`);
  },
  {
    clipDir: args.out,
    riseDb: num(args.rise),
    thresholdDb: num(args.threshold),
    minGapSeconds: num(args.gap),
    preRoll: num(args.pre),
    postRoll: num(args.post),
  },
);

try {
  console.log(`recording ${url ?? 'the synthetic live source'}; clips go to ${args.out}/`);
  const info = await rec.start();
  console.log(`  ${info.streams.map((s) => `${s.type} ${s.codec}`).join(', ')}`);
  if (args.seconds) setTimeout(stop, Number(args.seconds) * 1000);
  await new Promise<void>((resolve) => rec.once('close', resolve));
} catch (err) {
  if (err instanceof RecorderError) console.error(`${err.code}: ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
  await rec.stop();
}
