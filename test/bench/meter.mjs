// The audio meter's cost and the spike latency, run by bench.mjs as a child (a fresh process per
// measurement). Prints one JSON line.
//   node test/bench/meter.mjs cpu <file> <meter: 0|1>   process CPU to buffer <file> whole, with or
//                                                       without the meter measuring all of its audio
//   node test/bench/meter.mjs latency <file> <t1,t2…>   <file> read in real time: for each burst, the time
//                                                       from the arrival of its first loud window's
//                                                       instant (spike.time) to the handler's call
import { Recorder } from 'av-rewind';

const [mode, file, arg] = process.argv.slice(2);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

if (mode === 'cpu') {
  const metered = arg === '1';
  const rec = new Recorder({ source: file, bufferSeconds: 100_000, maxBufferBytes: 2 ** 31 - 1, statsInterval: 0, meter: metered });
  const ended = new Promise((resolve) => rec.once('end', resolve));
  const c0 = cpu();
  await rec.start();
  await ended; // with the meter, every level is measured before 'end'
  const used = cpu() - c0;
  let windows = 0;
  if (metered) windows = rec.levels({ from: 0, to: 1e9, clock: 'timeline' }).peakDb.filter((v) => !Number.isNaN(v)).length;
  console.log(JSON.stringify({ cpu: used, windows, seconds: rec.stats.newest }));
  await rec.stop();
} else {
  const bursts = arg.split(',').map(Number);
  const rec = new Recorder({ source: file, readRate: 'native', statsInterval: 0 });
  const latencies = [];
  const others = [];
  rec.onSpike((s) => {
    // (AAC's last frames can click: a spike in the stream's last instants is not one of the bursts.)
    if (bursts.some((t) => Math.abs(s.timeline - t) < 0.1)) latencies.push(Date.now() - s.time.getTime());
    else others.push(s.timeline);
  }, { minGapSeconds: 2 });
  const ended = new Promise((resolve) => rec.once('end', resolve));
  await rec.start();
  await ended;
  await rec.stop();
  console.log(JSON.stringify({ latencies, others }));
}
