// Real servers on 127.0.0.1, fed by the ffmpeg CLI or GStreamer: every protocol records and saves a
// clip that ffprobe accepts.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { Recorder } from 'av-rewind';
import { budget, checkClip, makeMedia, startHls, startRtmp, startRtsp, startTcpTs, startUdpTs, TIME_SCALE, tmpDir, waitFor } from './helpers/media.mjs';

const net = suite('network sources');
let media, dir;
net.before(async () => {
  dir = tmpDir();
  media = await makeMedia({ out: path.join(dir, 'src.mp4'), seconds: 20, gopSeconds: 1 });
});

// Records `url` until `seconds` are buffered, saves the last 3 s and checks the file.
async function recordAndSave(url, name, { seconds = 4, inputOptions, audio = true } = {}) {
  const rec = new Recorder({ source: url, inputOptions, statsInterval: 0, openTimeout: 10 * TIME_SCALE });
  try {
    const info = await rec.start();
    assert.equal(info.streams.map((s) => s.type), audio ? ['video', 'audio'] : ['video']);
    assert.is(info.streams[0].codec, 'h264');
    assert.is(info.streams[0].encodedFrom, null, 'compressed input must not be re-encoded');
    await waitFor(() => rec.stats.bufferedSeconds >= seconds, { timeout: budget(seconds, 15), message: () => `${name}: buffer stayed at ${rec.stats.bufferedSeconds} s` });
    const clip = await rec.saveLast(3, path.join(dir, `${name}.mp4`));
    assert.ok(clip.duration >= 2.9 && clip.duration <= 4.2, `${name}: duration ${clip.duration}`);
    await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.25, audio });
    const mkv = await rec.saveLast(2, path.join(dir, `${name}.mkv`));
    await checkClip(mkv.path, { seconds: mkv.duration, tolerance: 0.25, audio });
    return { rec, info, clip };
  } finally {
    await rec.stop();
  }
}

// Runs fn against a server that is stopped afterwards, whatever happens.
async function withServer(start, fn) {
  const srv = await start();
  try {
    return await fn(srv);
  } finally {
    await srv.stop();
  }
}

net('HLS over HTTP (a live playlist written by ffmpeg)', () =>
  withServer(() => startHls({ file: media }), async (srv) => {
    const { info } = await recordAndSave(srv.url, 'hls');
    assert.is(info.format, 'hls');
  }));

net('MPEG-TS over UDP', () =>
  withServer(() => startUdpTs({ file: media }), async (srv) => {
    const { info } = await recordAndSave(srv.url, 'udp');
    assert.is(info.format, 'mpegts');
  }));

net('MPEG-TS over TCP', () => withServer(() => startTcpTs({ file: media }), (srv) => recordAndSave(srv.url, 'tcp')));

net('RTMP (ffmpeg -listen 1)', () =>
  withServer(() => startRtmp({ file: media }), async (srv) => {
    const { info } = await recordAndSave(srv.url, 'rtmp');
    assert.is(info.format, 'flv');
  }));

for (const transport of ['tcp', 'udp']) {
  net(`RTSP over ${transport.toUpperCase()} from GStreamer's rtsp-server (first packets carry no timestamps)`, () =>
    withServer(() => startRtsp({ transport }), async (srv) => {
      const { info } = await recordAndSave(srv.url, `rtsp-${transport}`, { inputOptions: { rtsp_transport: transport } });
      assert.is(info.format, 'rtsp');
    }));
}
net.run();
