// examples/camera-server.ts over real HTTP: every endpoint, bad parameters, a client that leaves mid-clip,
// a slow MJPEG viewer beside a normal one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { budget, decodeErrors, run, tmpDir, waitFor } from './helpers/media.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function get(base, p, { raw = false } = {}) {
  return new Promise((resolve, reject) => {
    http.get(base + p, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body, json: !raw && /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(body) : null });
      });
    }).on('error', reject);
  });
}

const stamp = (d) => {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
};

test('camera-server: MJPEG, snapshot, info, recordings, footage, bad parameters, a client that leaves', async () => {
  const dir = tmpDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/camera-server.ts', '--port', '0', '--dir', path.join(dir, 'rec'), '--segment', '2', '--buffer', '4'],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await waitFor(() => /listening on http:\/\/127\.0\.0\.1:\d+/.test(out), { timeout: budget(0, 40), message: () => out });
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)[1];
    const t0 = new Date();

    const info = await get(base, '/camera_info');
    assert.is(info.status, 200);
    assert.is(info.json.streams[0].type, 'video');
    const snap = await get(base, '/snapshot.jpg', { raw: true });
    assert.equal([snap.status, snap.headers['content-type'], snap.body[0], snap.body[1]], [200, 'image/jpeg', 0xff, 0xd8]);

    // Two MJPEG viewers: one reads, one never does (its socket fills). The reader still gets frames.
    const parts = await new Promise((resolve, reject) => {
      const slow = http.get(base + '/', (res) => res.pause());
      http.get(base + '/', (res) => {
        assert.match(res.headers['content-type'], /multipart\/x-mixed-replace; boundary=frame/);
        let seen = Buffer.alloc(0);
        res.on('data', (d) => {
          seen = Buffer.concat([seen, d]);
          const n = seen.toString('latin1').split('--frame').length - 1;
          if (n >= 8) {
            res.destroy();
            slow.destroy();
            resolve(seen);
          }
        });
      }).on('error', reject);
    });
    assert.match(parts.toString('latin1'), /Content-Type: image\/jpeg\r\nContent-Length: \d+\r\n\r\n\xff\xd8/);

    await waitFor(async () => (await get(base, '/recordings')).json.filter((r) => r.complete).length >= 3, { timeout: budget(8) });
    const list = (await get(base, '/recordings')).json;
    assert.ok(list.every((r) => /^recording_\d{8}_\d{6}(_\d+)?\.mp4$/.test(r.file)), JSON.stringify(list));

    // Footage from disk and memory (the buffer holds 4 s; more is asked, from the first segment on).
    const to = new Date(Date.now() - 1000), from = new Date(Date.parse(list[0].start) + 500);
    const want = (to - from) / 1000;
    const clip = await get(base, `/footage?from=${from.getTime()}&to=${to.getTime()}`, { raw: true });
    assert.is(clip.status, 200, clip.body.toString());
    assert.is(clip.headers['content-type'], 'video/mp4');
    const sources = JSON.parse(clip.headers['x-footage-sources']);
    assert.ok(sources.disk > 0 && sources.memory > 0, JSON.stringify(sources));
    const f = path.join(dir, 'clip.mp4');
    fs.writeFileSync(f, clip.body);
    assert.equal(await decodeErrors(f), '');
    const { out: d } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f]);
    assert.equal(JSON.parse(clip.headers['x-footage-missing']), []);
    // From the keyframe at or before `from` (the stand-in's GOP is 2 s) to `to`.
    assert.ok(+d > want - 0.1 && +d < want + 2.1, `footage of ${d} s for ${want} s`);
    // Local-time stamps as the original API used them.
    const named = await get(base, `/footage?from=${stamp(new Date(t0.getTime() + 2000))}&to=${stamp(new Date(t0.getTime() + 5000))}`, { raw: true });
    assert.is(named.status, 200);

    for (const [q, status] of [['', 400], ['?from=yesterday&to=now', 400], ['?from=../../etc/passwd&to=1', 400], ['?from=20010101_000000&to=20010101_000010', 404], ['?from=20240517_999999&to=20240517_102318', 400]]) {
      const r = await get(base, `/footage${q}`);
      assert.is(r.status, status, `${q}: ${r.body}`);
      assert.type(r.json.error, 'string');
    }
    assert.is((await get(base, '/nothing')).status, 404);

    // A client that leaves mid-clip: the server goes on, and its temporary clips go.
    await new Promise((resolve) => {
      const req = http.get(`${base}/footage?from=${from.getTime()}&to=${to.getTime()}`, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => resolve());
    });
    assert.is((await get(base, '/camera_info')).status, 200);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('close', r));
  }
  const tmpLeft = fs.readdirSync('/tmp').filter((n) => n.startsWith('camera-server-'));
  assert.equal(tmpLeft.filter((n) => fs.readdirSync(path.join('/tmp', n)).length > 0), [], 'temporary clips left behind');
});

test.run();
