// Memory of recorders in a fresh process, run by bench.mjs as a child (one process per measurement, so
// nothing an earlier measurement allocated is counted). Prints one JSON line.
//   node test/bench/memory.mjs one <file>            one recorder buffering the whole file at full speed
//   node test/bench/memory.mjs many <file> <count>   <count> recorders reading <file> in real time
//   node test/bench/memory.mjs cycles <file> <count> <count> start/stop cycles, each buffering the whole file
import { setTimeout as sleep } from 'node:timers/promises';
import { Recorder, versions } from 'av-rewind';

const [mode, file, countArg] = process.argv.slice(2);
const rss = () => process.memoryUsage().rss;
const start = rss();
versions(); // load the addon and FFmpeg's libraries before the baseline
await sleep(200);
const base = rss();
const library = base - start; // what loading FFmpeg's shared libraries costs, before any recorder

if (mode === 'one') {
  const rec = new Recorder({ source: file, bufferSeconds: 100_000, maxBufferBytes: 2 ** 31 - 1, statsInterval: 0 });
  const ended = new Promise((resolve) => rec.once('end', resolve));
  await rec.start();
  await ended;
  await sleep(300);
  const s = rec.stats;
  console.log(JSON.stringify({ library, rss: rss() - base, held: s.bytes, memory: s.memory, packets: s.packets }));
  await rec.stop();
} else if (mode === 'cycles') {
  // A recorder started and stopped again and again (each time buffering the whole file): what stays.
  const count = Number(countArg);
  const points = [];
  let held = 0;
  for (let i = 1; i <= count; i++) {
    const rec = new Recorder({ source: file, bufferSeconds: 100_000, maxBufferBytes: 2 ** 31 - 1, statsInterval: 0 });
    const ended = new Promise((resolve) => rec.once('end', resolve));
    await rec.start();
    await ended;
    held = rec.stats.bytes;
    await rec.stop();
    if (i % Math.max(1, Math.floor(count / 4)) === 0) points.push([i, rss() - base]);
  }
  await sleep(300);
  console.log(JSON.stringify({ held, points, after: rss() - base }));
} else {
  // Idle recorders: live sources (read in real time) with a few seconds buffered, measured per recorder.
  const count = Number(countArg);
  const start = async (n) => {
    const recs = Array.from({ length: n }, () => new Recorder({ source: file, readRate: 'native', bufferSeconds: 2, statsInterval: 0 }));
    await Promise.all(recs.map((r) => r.start()));
    return recs;
  };
  const first = await start(1);
  await sleep(3000);
  const one = rss() - base;
  const more = await start(count);
  await sleep(3000);
  const all = [...first, ...more];
  const held = all.reduce((sum, r) => sum + r.stats.memory, 0);
  const firstHeld = first[0].stats.memory;
  console.log(JSON.stringify({ first: one, firstHeld, total: rss() - base, held, count, perExtra: (rss() - base - one - (held - firstHeld)) / count }));
  await Promise.all(all.map((r) => r.stop()));
}
