// Sites through yt-dlp (Debian's yt-dlp, its generic extractor) against pages and streams served on
// 127.0.0.1: resolution before start(), again before every reconnect, yt-dlp's headers on the media
// requests, and the errors for a missing binary and for a page yt-dlp cannot resolve.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Recorder, RecorderError } from 'av-rewind';
import { checkClip, makeMedia, startHls, tmpDir, waitFor, within, budget } from './helpers/media.mjs';

const yt = suite('sites through yt-dlp');
let dir, media, server, base, hits;
yt.before(async () => {
  dir = tmpDir();
  media = await makeMedia({ out: path.join(dir, 'clip.ts'), seconds: 3, gopSeconds: 1 });
  hits = [];
  // A page with an HTML5 video (what yt-dlp's generic extractor reads), whose media URL changes on every
  // visit, as signed site URLs do; the stream itself ends after the file, so the recorder reconnects.
  server = http.createServer((req, res) => {
    hits.push({ url: req.url, ua: req.headers['user-agent'] });
    if (req.url.startsWith('/page')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(`<html><body><video controls><source src="/stream.ts?visit=${hits.filter((h) => h.url.startsWith('/page')).length}" type="video/mp2t"></video></body></html>`);
    }
    if (req.url.startsWith('/stream')) {
      res.writeHead(200, { 'content-type': 'video/mp2t' });
      return fs.createReadStream(media).pipe(res);
    }
    res.writeHead(404).end('not here');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
yt.after(() => {
  server.closeAllConnections();
  server.close();
});

yt('a page resolves to its media URL, with yt-dlp\'s headers, and again before every reconnect', async () => {
  const rec = new Recorder({ source: `${base}/page.html`, ytdlp: true, statsInterval: 0, reconnect: { delay: 0.1 } });
  try {
    await resolvesAndReconnects(rec);
  } finally {
    await rec.stop();
  }
});

async function resolvesAndReconnects(rec) {
  const info = await rec.start();
  assert.equal(info.streams.map((s) => s.type), ['video', 'audio']);
  const streams = () => hits.filter((h) => h.url.startsWith('/stream'));
  await waitFor(() => streams().length >= 3, { timeout: budget(5), message: () => `reconnects: ${JSON.stringify(hits)}` });
  const pages = hits.filter((h) => h.url.startsWith('/page'));
  assert.ok(pages.length >= 3, JSON.stringify(hits));
  // Each connection opened the URL of the visit just before it.
  assert.equal(streams().slice(0, 3).map((s) => s.url), ['/stream.ts?visit=1', '/stream.ts?visit=2', '/stream.ts?visit=3']);
  // The media requests carry the User-Agent yt-dlp chose, not libavformat's.
  assert.ok(streams().every((s) => /Mozilla/.test(s.ua) && !/Lavf/.test(s.ua)), JSON.stringify(streams()));
  const clip = await rec.saveLast(2, path.join(dir, 'page.mp4'));
  await checkClip(clip.path);
}

yt('an HLS URL on 127.0.0.1, through the generic extractor', async () => {
  const hls = await startHls({ file: media });
  try {
    const rec = new Recorder({ source: hls.url, ytdlp: { format: 'best' }, statsInterval: 0 });
    await rec.start();
    await waitFor(() => rec.stats.bufferedSeconds >= 1.5, { timeout: budget(3) });
    await checkClip((await rec.saveLast(1, path.join(dir, 'hls.mp4'))).path);
    await rec.stop();
  } finally {
    await hls.stop();
  }
});

yt('stop() while yt-dlp resolves, then start() again: the first start is stopped, the second records', async () => {
  const rec = new Recorder({ source: `${base}/page.html`, ytdlp: true, statsInterval: 0 });
  const first = rec.start();
  await rec.stop();
  const second = rec.start();
  const e = await first.catch((err) => err);
  assert.instance(e, RecorderError);
  assert.is(e.code, 'ERR_STOPPED');
  const info = await within(second, budget(5), 'the second start never settled');
  assert.is(rec.state, 'recording');
  assert.is(info.streams.length, 2);
  await rec.stop();
  assert.is(rec.state, 'stopped');
});

yt('a missing yt-dlp and a page it cannot resolve are clear errors', async () => {
  const missing = new Recorder({ source: `${base}/page.html`, ytdlp: { binary: path.join(dir, 'no-yt-dlp') } });
  const e1 = await missing.start().catch((e) => e);
  assert.instance(e1, RecorderError);
  assert.is(e1.code, 'ERR_YTDLP_MISSING');
  assert.match(e1.message, /apt-get install yt-dlp/);
  assert.is(missing.state, 'stopped');

  const bad = new Recorder({ source: `${base}/nothing.html`, ytdlp: true });
  const e2 = await bad.start().catch((e) => e);
  assert.instance(e2, RecorderError);
  assert.is(e2.code, 'ERR_RESOLVE');
  assert.match(e2.message, /404/); // yt-dlp's own words
  assert.match(e2.stack, /ytdlp\.test\.mjs/); // the stack of the user's call

  assert.throws(() => new Recorder({ source: 'cam.mp4', ytdlp: true }), /http\(s\) page URL/);
  assert.throws(() => new Recorder({ source: `${base}/p`, ytdlp: { fromat: 'best' } }), /fromat/);
});

yt.run();
