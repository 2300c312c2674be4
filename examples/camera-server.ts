// A camera recorder on node:http: recorded around the clock in segments (deleted after 72 hours), the
// last 30 minutes in memory, a live MJPEG view, and the footage between two instants from disk and
// memory joined into one clip.
//
//   node --import tsx examples/camera-server.ts                       # the lavfi stand-in camera
//   node --import tsx examples/camera-server.ts --source /dev/video0 --input-format mjpeg --size 1280x720
//   HOST=0.0.0.0 PORT=8080 node --import tsx examples/camera-server.ts --source rtsp://cam/stream
//
//   GET /                       live MJPEG (multipart/x-mixed-replace)
//   GET /snapshot.jpg           the newest frame
//   GET /camera_info            the source and the recorder's state
//   GET /recordings             the segments on disk
//   GET /footage?from=20240517_102300&to=20240517_102318   one MP4 (local times, or epoch ms)
import http from 'node:http';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Recorder, RecorderError, syntheticSource, type Frame } from 'av-rewind';

const { values } = parseArgs({
  options: {
    source: { type: 'string' },
    format: { type: 'string' },
    'input-format': { type: 'string' }, // a camera's: mjpeg, h264, yuyv422…
    size: { type: 'string' }, // a camera's: 1280x720
    fps: { type: 'string' }, // a camera's: 30
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    port: { type: 'string', default: process.env.PORT ?? '8080' },
    dir: { type: 'string', default: 'recordings' },
    segment: { type: 'string', default: '600' },
    retain: { type: 'string', default: '72' },
    buffer: { type: 'string', default: '1800' },
  },
});

const inputOptions: Record<string, string> = {};
if (values['input-format']) inputOptions.input_format = values['input-format'];
if (values.size) inputOptions.video_size = values.size;
if (values.fps) inputOptions.framerate = values.fps;
const source = values.source
  ? { source: values.source, format: values.format, inputOptions, fallback: true }
  : syntheticSource({ width: 640, height: 360, fps: 25 });
const rec = new Recorder({
  ...source,
  bufferSeconds: Number(values.buffer),
  record: { dir: values.dir, segmentSeconds: Number(values.segment), retainHours: Number(values.retain) },
});
rec.on('warning', (w) => console.log(`warning: ${w.message}`));
rec.on('error', (e) => console.error(`error: ${e.code}: ${e.message}`));
rec.on('segment', (s) => console.log(`segment ${path.basename(s.file)} (${s.duration.toFixed(1)} s)`));
rec.on('deleted', (d) => console.log(`deleted ${path.basename(d.file)} (${d.reason})`));
const info = await rec.start();
const tmp = await mkdtemp(path.join(os.tmpdir(), 'camera-server-'));

// One MJPEG producer for every viewer: each gets the newest frame when its socket has room, so a slow
// viewer skips frames instead of stalling the others or growing a queue.
const viewers = new Set<http.ServerResponse>();
let producing = false;
async function produce(): Promise<void> {
  if (producing) return;
  producing = true;
  try {
    for await (const f of rec.frames({ fps: 10, width: 640 })) {
      if (viewers.size === 0) break;
      for (const res of viewers) if (!res.writableNeedDrain) writePart(res, f);
    }
  } catch (err) {
    console.error('preview stopped:', err);
  } finally {
    producing = false;
  }
}
function writePart(res: http.ServerResponse, f: Frame): void {
  res.write(`--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ${f.data.length}\r\n\r\n`);
  res.write(f.data);
  res.write('\r\n');
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
};
// 'YYYYMMDD_HHMMSS' (local time) or epoch ms, as footage() takes them; anything else is a 400.
const instant = (v: string | null): string | number | null => {
  if (v === null) return null;
  if (/^\d{8}_\d{6}$/.test(v)) return v;
  if (/^\d{10,15}$/.test(v)) return Number(v);
  return null;
};

let clips = 0;
const server = http.createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://camera');
  try {
    if (req.method !== 'GET') return json(res, 405, { error: 'GET only' });
    switch (url.pathname) {
      case '/': {
        res.writeHead(200, { 'content-type': 'multipart/x-mixed-replace; boundary=frame', 'cache-control': 'no-store' });
        viewers.add(res);
        res.on('close', () => viewers.delete(res));
        void produce();
        return;
      }
      case '/snapshot.jpg': {
        const f = await rec.grabFrame();
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': f.data.length, 'cache-control': 'no-store' }).end(f.data);
        return;
      }
      case '/camera_info': {
        const s = rec.stats;
        return json(res, 200, {
          source: values.source ?? 'lavfi stand-in camera',
          format: info.format,
          streams: info.streams,
          state: s.state,
          bufferedSeconds: s.bufferedSeconds,
          oldest: s.oldestTime,
          newest: s.newestTime,
          recordings: rec.recordings().length,
        });
      }
      case '/recordings':
        // Names only: where the folder is stays the server's business.
        return json(res, 200, rec.recordings().map((r) => ({ ...r, file: path.basename(r.file) })));
      case '/footage': {
        const from = instant(url.searchParams.get('from')), to = instant(url.searchParams.get('to'));
        if (from === null || to === null) return json(res, 400, { error: "from and to: 'YYYYMMDD_HHMMSS' (local time) or epoch milliseconds" });
        // The file name is ours, never the request's.
        const file = path.join(tmp, `clip-${++clips}.mp4`);
        let r;
        try {
          r = await rec.footage({ from, to }, file);
        } catch (err) {
          if (err instanceof RecorderError && err.code === 'ERR_RANGE_NOT_BUFFERED') return json(res, 404, { error: err.message });
          if (err instanceof RecorderError && err.code === 'ERR_INVALID_ARG') return json(res, 400, { error: err.message });
          throw err;
        }
        res.writeHead(200, {
          'content-type': 'video/mp4',
          'content-length': r.bytes,
          'x-footage-sources': JSON.stringify(r.sources),
          'x-footage-missing': JSON.stringify(r.missing),
        });
        // Deleted once sent, or once the client has gone.
        const stream = createReadStream(file);
        const done = () => void rm(file, { force: true });
        res.on('close', () => {
          stream.destroy();
          done();
        });
        stream.pipe(res);
        return;
      }
      default:
        return json(res, 404, { error: 'not found' });
    }
  } catch (err) {
    console.error(err);
    if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
    else res.destroy();
  }
});

server.listen(Number(values.port), values.host, () => {
  const a = server.address() as { address: string; port: number };
  console.log(`listening on http://${a.address}:${a.port}/ (recording ${values.source ?? 'the lavfi stand-in camera'} into ${values.dir}/)`);
});

const quit = async () => {
  server.close();
  for (const v of viewers) v.end();
  server.closeAllConnections();
  await rec.stop();
  await rm(tmp, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGINT', () => void quit());
process.on('SIGTERM', () => void quit());
