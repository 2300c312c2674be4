// One frame from a stream every N seconds without staying connected: connect, read until the first
// decodable frame, disconnect. For rare stills (one every 5 minutes) this downloads a few hundred KB
// per frame instead of the whole stream.
//
//   node --import tsx examples/snapshot.ts https://example.com/live.m3u8 --every 300 --dir snapshots
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { RecorderError, snapshot } from 'av-rewind';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    every: { type: 'string', default: '300' },
    dir: { type: 'string', default: 'snapshots' },
    timeout: { type: 'string', default: '20' },
    count: { type: 'string' }, // stop after this many attempts (default: until Ctrl-C)
    ytdlp: { type: 'boolean', default: false }, // a YouTube (or other site) page instead of a stream URL
  },
});
const [url] = positionals;
if (!url) {
  console.error('usage: node --import tsx examples/snapshot.ts <url> [--every 300] [--dir snapshots] [--timeout 20] [--count N] [--ytdlp]');
  process.exit(2);
}
const every = Number(values.every) * 1000;
const count = values.count === undefined ? Infinity : Number(values.count);
await mkdir(values.dir, { recursive: true });

const ac = new AbortController();
process.on('SIGINT', () => ac.abort());
for (let i = 0; i < count && !ac.signal.aborted; i++) {
  const started = Date.now();
  // Sortable, OS-safe names: the ISO time with ':' and '.' as '-'.
  const file = path.join(values.dir, `snapshot-${new Date(started).toISOString().replace(/[:.]/g, '-')}.jpg`);
  try {
    const s = await snapshot(url, { timeout: Number(values.timeout), path: file, ytdlp: values.ytdlp, signal: ac.signal });
    console.log(`saved ${s.path} (${s.width}x${s.height}) in ${Date.now() - started} ms, read ${(s.bytesRead / 1024).toFixed(0)} KB`);
  } catch (err) {
    if (err instanceof RecorderError && err.code === 'ERR_ABORTED') break;
    // A stream that is down now may be up at the next attempt.
    console.error(err instanceof RecorderError ? `snapshot failed: ${err.code}: ${err.message}` : err);
  }
  if (i + 1 < count) await sleep(Math.max(0, started + every - Date.now()), undefined, { signal: ac.signal }).catch(() => {});
}
