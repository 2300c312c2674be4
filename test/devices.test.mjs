// Cameras. No camera exists on these machines and v4l2loopback cannot load, so: the device path is
// tested with lavfi standing in (raw video at a real-time rate, test/recording.test.mjs); here, what can
// be tested without one: the listing (an array, whatever the machine has), the mapping of V4L2 formats,
// the device format a source implies, and the fallback when the configured camera is missing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import { listDevices, Recorder, RecorderError } from 'av-rewind';
import { run } from './helpers/media.mjs';

test('listDevices lists what the machine has, each format with sizes and rates', async () => {
  const devices = await listDevices();
  assert.ok(Array.isArray(devices));
  const nodes = fs.readdirSync('/dev').filter((n) => /^video\d+$/.test(n));
  // Capture nodes only (a camera's metadata node is not one): never more than the /dev/video* nodes.
  assert.ok(devices.length <= nodes.length, `${devices.length} devices, ${nodes.length} nodes`);
  for (const d of devices) {
    assert.match(d.path, /^\/dev\/video\d+$/);
    assert.type(d.name, 'string');
    for (const f of d.formats) {
      assert.ok(f.width > 0 && f.height > 0 && Array.isArray(f.fps), JSON.stringify(f));
      assert.type(f.codec, 'string');
    }
  }
});

test('V4L2 formats are named as libav names them; the device format a source implies', async () => {
  // lib/devices.ts itself, through tsx (these helpers are not part of the package's API).
  const code = `import { fourccFormat, defaultDeviceFormat } from './lib/devices.ts';
    console.log(JSON.stringify({
      f: ['MJPG', 'YUYV', 'H264', 'NV12', 'XYZ1'].map(fourccFormat),
      d: [['/dev/video0', 'linux'], ['video=Integrated Camera', 'win32'], ['0:none', 'darwin'], ['/dev/video0', 'darwin'], ['rtsp://cam/stream', 'linux']].map(([s, p]) => defaultDeviceFormat(s, p) ?? null),
    }));`;
  const { out } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code]);
  const r = JSON.parse(out);
  assert.equal(r.f, [
    { codec: 'mjpeg', pixelFormat: 'mjpeg' },
    { codec: 'rawvideo', pixelFormat: 'yuyv422' },
    { codec: 'h264', pixelFormat: 'h264' },
    { codec: 'rawvideo', pixelFormat: 'nv12' },
    { codec: 'rawvideo', pixelFormat: 'xyz1' },
  ]);
  assert.equal(r.d, ['v4l2', 'dshow', 'avfoundation', null, null]);
});

test('a /dev/video source opens as v4l2; a missing camera is ERR_OPEN_INPUT, or with fallback and no camera, still that', async () => {
  const rec = new Recorder({ source: '/dev/video97', inputOptions: { video_size: '1280x720', framerate: 30, input_format: 'mjpeg' }, reconnect: false, openTimeout: 5 });
  const warnings = [];
  rec.on('warning', (w) => warnings.push(w));
  const e = await rec.start().catch((err) => err);
  assert.instance(e, RecorderError);
  assert.is(e.code, 'ERR_OPEN_INPUT');
  assert.match(e.message, /\/dev\/video97/);
  await rec.stop();
  const fb = new Recorder({ source: '/dev/video97', fallback: true, reconnect: false, openTimeout: 5 });
  fb.on('warning', (w) => warnings.push(w));
  const e2 = await fb.start().catch((err) => err);
  const devices = await listDevices();
  if (devices.length === 0) {
    assert.is(e2.code, 'ERR_OPEN_INPUT');
    assert.equal(warnings, []);
  } else {
    assert.ok(warnings.some((w) => w.code === 'WARN_DEVICE_FALLBACK'), JSON.stringify(warnings));
  }
  await fb.stop();
  assert.throws(() => new Recorder({ source: '/dev/video0', fallback: 'yes' }), /fallback/);
});

test.run();
