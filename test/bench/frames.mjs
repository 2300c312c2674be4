// Frame grabs' latency and the CPU of periodic capture and live previews, run by bench.mjs as a child
// (a fresh process per measurement). Prints one JSON line.
//   node test/bench/frames.mjs latency <file>          <file> buffered whole (its newest packet the last
//                                                      of a GOP): grabFrame 'keyframe' and 'latest' to
//                                                      JPEG, each cold (no decoder state carried over)
//   node test/bench/frames.mjs cpu <file> <mode> <s>   <file> read in real time for <s> seconds; process
//                                                      CPU with mode none | capture (captureFrames every
//                                                      10 s) | frames (frames({ fps: 5, width: 640 }))
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Recorder } from 'av-rewind';

const [mode, file, arg, secs] = process.argv.slice(2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

if (mode === 'latency') {
  const rec = new Recorder({ source: file, bufferSeconds: 600, statsInterval: 0 });
  const ended = new Promise((resolve) => rec.once('end', resolve));
  await rec.start();
  await ended;
  const time = async (o) => {
    const t0 = performance.now();
    const f = await rec.grabFrame(o);
    return { ms: performance.now() - t0, timeline: f.timeline, bytes: f.data.length };
  };
  const key = [], latest = [];
  let keyAt = 0, latestAt = 0;
  for (let i = 0; i < 5; i++) {
    const k = await time({ at: 'keyframe', quality: 90 });
    key.push(k.ms);
    keyAt = k.timeline;
    // Apart by more than the steady-grab window: each 'latest' decodes its GOP prefix afresh.
    await sleep(1700);
    const l = await time({ quality: 90 });
    latest.push(l.ms);
    latestAt = l.timeline;
  }
  console.log(JSON.stringify({ keyframe: median(key), latest: median(latest), keyAt, latestAt, newest: rec.stats.newest }));
  await rec.stop();
} else {
  const seconds = Number(secs);
  const rec = new Recorder({ source: file, readRate: 'native', statsInterval: 0 });
  await rec.start();
  await sleep(3000); // past start-up and the first GOPs
  const d0 = rec.stats.framesDecoded;
  const c0 = cpu();
  let n = 0, stop = async () => {};
  if (arg === 'capture') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'av-rewind-bench-cap-'));
    const cap = rec.captureFrames({ everySeconds: 10, dir });
    cap.on('frame', () => n++);
    stop = async () => {
      await cap.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    };
  } else if (arg === 'frames') {
    let done = false;
    const loop = (async () => {
      for await (const f of rec.frames({ fps: 5, width: 640 })) {
        n++;
        if (done) break;
      }
    })();
    stop = async () => {
      done = true;
      await loop;
    };
  }
  await sleep(seconds * 1000);
  await stop();
  const used = cpu() - c0;
  console.log(JSON.stringify({ cpu: used, seconds, frames: n, decoded: rec.stats.framesDecoded - d0 }));
  await rec.stop();
}
