// Continuous recording's cost, run by bench.mjs as a child (a fresh process). Prints one JSON line.
//   node test/bench/recording.mjs <file> <dir> <segmentSeconds> <bufferSeconds>
// Buffers <file> at full speed twice, without and with the disk recorder writing <dir> (segments cut on
// the timeline: a file read at full speed has no wall clock).
import { Recorder } from 'av-rewind';

const [file, dir, segment, buffer] = process.argv.slice(2);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const run = async (record) => {
  const rec = new Recorder({ source: file, bufferSeconds: Number(buffer), statsInterval: 0, ...(record ? { record: { dir, segmentSeconds: Number(segment), retainHours: 0 } } : {}) });
  const ended = new Promise((resolve) => rec.once('end', resolve));
  const c0 = cpu();
  await rec.start();
  await ended;
  await rec.stop(); // the disk recorder's last segment is written by then
  return { rec, cpu: cpu() - c0 };
};
await run(false); // warm-up: libraries, page cache
const plain = await run(false);
const { rec, cpu: withRecord } = await run(true);
const segments = rec.recordings();
const bytes = segments.reduce((s, x) => s + x.bytes, 0);
console.log(JSON.stringify({ cpuPlain: plain.cpu, cpuRecord: withRecord, bytes, segments: segments.length }));
