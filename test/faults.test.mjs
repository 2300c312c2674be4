// Sources that hang, die and come back: stop() is prompt, timeouts fire, reconnects leave a marked gap
// and saves across it still play.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import path from 'node:path';
import { Recorder, RecorderError } from 'av-rewind';
import { budget, checkClip, freePort, makeMedia, startHls, startRtmp, TIME_SCALE, tmpDir, waitFor, within } from './helpers/media.mjs';

const faults = suite('faults');
let media, dir;
faults.before(async () => {
  dir = tmpDir();
  media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 20, gopSeconds: 1 });
});

// A TCP server that accepts connections and never sends a byte.
async function hungServer() {
  const sockets = new Set();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    get connections() { return sockets.size; },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

faults('stop() returns within a second while the source hangs during open', async () => {
  const hung = await hungServer();
  try {
    const rec = new Recorder({ source: `tcp://127.0.0.1:${hung.port}`, format: 'mpegts', openTimeout: 60 });
    const started = rec.start().catch((e) => e);
    // Stop once the open is under way: connected, and waiting for data that never comes.
    await waitFor(() => hung.connections > 0, { message: 'the recorder never connected' });
    const t0 = performance.now();
    await rec.stop();
    const took = performance.now() - t0;
    assert.ok(took < 1000, `stop() took ${took} ms`);
    const err = await started;
    assert.instance(err, RecorderError);
    assert.is(err.code, 'ERR_STOPPED');
  } finally {
    await hung.close();
  }
});

faults('stop() returns within a second even while libav is stuck in a call it cannot interrupt', async () => {
  // The realtime filter sleeps inside av_read_frame without asking the interrupt callback: after 30
  // frames the timestamps jump 6 s ahead, so the read blocks for 6 s.
  const graph = "testsrc2=size=64x64:rate=25,setpts='PTS+gte(N\\,30)*6/TB',realtime=limit=100";
  const rec = new Recorder({ source: graph, format: 'lavfi', statsInterval: 0 });
  await rec.start();
  // All 30 frames before the jump are buffered (x264 zerolatency: a packet per frame at once): the
  // read of frame 30 is the one that blocks.
  await waitFor(() => rec.stats.totalPackets >= 30, { timeout: budget(1.2), message: () => `${rec.stats.totalPackets} packets` });
  const t0 = performance.now();
  await rec.stop();
  const took = performance.now() - t0;
  assert.ok(took < 1000, `stop() took ${took} ms`);
  assert.is(rec.state, 'stopped');
  const err = await rec.start().catch((e) => e);
  assert.is(err.code, 'ERR_ALREADY_STARTED');
  assert.match(err.message, /still shutting down/);
  // Once the call returns, the thread finishes by itself and the recorder can start again.
  await waitFor(async () => (await rec.start().then(() => true, () => false)), { timeout: budget(6), interval: 250 });
  await rec.stop();
});

faults('openTimeout bounds a source that never answers', async () => {
  const hung = await hungServer();
  try {
    const t0 = performance.now();
    const err = await new Recorder({ source: `tcp://127.0.0.1:${hung.port}`, format: 'mpegts', openTimeout: 1 }).start().catch((e) => e);
    const took = performance.now() - t0;
    assert.instance(err, RecorderError);
    assert.is(err.code, 'ERR_TIMEOUT', err.message);
    // Not before the timeout; after it, as soon as libav next polls the interrupt callback.
    assert.ok(took > 900 && took < 1000 + 2000 * TIME_SCALE, `gave up after ${took} ms`);
  } finally {
    await hung.close();
  }
});

faults('a refused connection fails start() at once with libav\'s error', async () => {
  const port = await freePort();
  const err = await new Recorder({ source: `rtmp://127.0.0.1:${port}/live/x` }).start().catch((e) => e);
  assert.is(err.code, 'ERR_OPEN_INPUT');
  assert.match(err.avMessage, /refused/i);
});

faults('RTMP server killed and restarted: reconnect, a marked gap, and a save across it plays', async () => {
  const srv = await startRtmp({ file: media });
  const rec = new Recorder({ source: srv.url, reconnect: { delay: 0.25, maxDelay: 1 }, stallTimeout: 3, statsInterval: 0 });
  const events = [];
  rec.on('reconnecting', (e) => events.push(['reconnecting', e.attempt, e.error.code]));
  rec.on('reconnected', (e) => events.push(['reconnected', e.gap]));
  try {
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds >= 3, { timeout: budget(3) });
    await srv.restart();
    await waitFor(() => events.some((e) => e[0] === 'reconnected'), { timeout: budget(0, 20), message: () => JSON.stringify(events) });
    const gap = events.find((e) => e[0] === 'reconnected')[1];
    assert.ok(gap && gap.to > gap.from, `gap ${JSON.stringify(gap)}`);
    assert.is(rec.stats.reconnects >= 1, true);
    assert.is(rec.stats.state, 'recording');
    await waitFor(() => rec.stats.newest >= gap.to + 2, { timeout: budget(2) });
    const clip = await rec.saveRange({ from: gap.from - 2, to: gap.to + 2, clock: 'timeline' }, path.join(dir, 'across-gap.mp4'));
    assert.ok(clip.gaps >= 1, `clip.gaps ${clip.gaps}`);
    await checkClip(clip.path);
  } finally {
    await rec.stop();
    await srv.stop();
  }
});

faults('HLS writer restarted with a discontinuity: the timeline stays monotonic', async () => {
  const srv = await startHls({ file: media });
  const rec = new Recorder({ source: srv.url, reconnect: { delay: 0.25, maxDelay: 1 }, statsInterval: 0 });
  try {
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds >= 3, { timeout: budget(3) });
    const before = rec.stats.newest;
    await srv.restart();
    await waitFor(() => rec.stats.newest >= before + 5, { timeout: budget(5, 15), message: () => `stuck at ${rec.stats.newest}` });
    const s = rec.stats;
    assert.ok(s.bufferedSeconds < (Date.now() - s.oldestTime.getTime()) / 1000 + 3, 'timeline ran ahead of real time');
    const clip = await rec.saveLast(s.bufferedSeconds, path.join(dir, 'hls-discontinuity.mkv'));
    await checkClip(clip.path);
  } finally {
    await rec.stop();
    await srv.stop();
  }
});

faults('reconnect gives up after maxAttempts: end + error events, the buffer stays saveable', async () => {
  const srv = await startRtmp({ file: media, respawn: false });
  const rec = new Recorder({ source: srv.url, reconnect: { delay: 0.2, maxAttempts: 2 }, statsInterval: 0 });
  const attempts = [];
  rec.on('reconnecting', (e) => attempts.push(e.attempt));
  const errored = new Promise((r) => rec.once('error', r));
  const ended = new Promise((r) => rec.once('end', r));
  try {
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds >= 2.5, { timeout: budget(2.5) });
    await srv.stop();
    const { error } = await within(ended, budget(0, 20), "no 'end' after the server went away");
    assert.instance(error, RecorderError);
    assert.match(error.message, /Gave up reconnecting after 2 attempts/);
    assert.is(await errored, error);
    assert.equal(attempts, [1, 2]);
    assert.is(rec.state, 'ended');
    const clip = await rec.saveLast(2, path.join(dir, 'after-end.mp4'));
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.25 });
  } finally {
    await rec.stop();
  }
});
faults.run();
