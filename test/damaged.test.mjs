// Damaged streams: bad timestamps, corrupt packets and random byte damage must not lose a clip. Each
// damage is made at test time (ffmpeg's setts filter, or the TS mutator in helpers/ts-mutate.mjs) on a
// clean source, and the recorder's saves are compared with the same source recorded undamaged.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { RecorderError } from 'av-rewind';
import { recordToEnd } from './helpers/record.mjs';
import { budget, checkClip, makeMedia, probe, run, tmpDir, within } from './helpers/media.mjs';
import * as ts from './helpers/ts-mutate.mjs';

// Packets per type in a probed file.
const counts = (p) => Object.fromEntries(p.streams.map((s) => [s.codec_type, (p.packets[s.index] ?? []).length]));
// Holes longer than `min` seconds between consecutive presented packets of each track.
function holes(p, min = 0.25) {
  const found = [];
  for (const s of p.streams) {
    const pts = (p.packets[s.index] ?? []).map((k) => k.pts).filter((t) => t !== null).sort((a, b) => a - b);
    for (let i = 1; i < pts.length; i++) if (pts[i] - pts[i - 1] > min) found.push(`${s.codec_type} ${pts[i - 1]} -> ${pts[i]}`);
  }
  return found;
}
const edges = (p, type) => {
  const s = p.streams.find((st) => st.codec_type === type);
  const pts = p.packets[s.index].map((k) => k.pts);
  return [Math.min(...pts), Math.max(...pts)];
};

const damaged = suite('damaged streams');
let dir, src, srcStart, clean;
damaged.before(async () => {
  dir = tmpDir();
  // MPEG-TS with B-frames (dts ≠ pts), 1 s GOPs, AAC in ADTS: what cameras and broadcast send.
  src = await makeMedia({ out: path.join(dir, 'src.ts'), seconds: 12, gopSeconds: 1, bframes: 2 });
  srcStart = (await probe(src)).streams.find((s) => s.codec_type === 'video').start_time;
  clean = await recordAll(src, 'clean');
});

// Records `source` to its end and saves the whole buffer as mp4; returns what a comparison needs.
async function recordAll(source, name, options = {}) {
  const { rec } = await recordToEnd({ source, bufferSeconds: 60, ...options });
  const stats = rec.stats;
  const clip = await rec.saveLast(60, path.join(dir, `${name}.mp4`));
  const p = await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.002, passthrough: true });
  return { rec, stats, clip, probe: p, counts: counts(p) };
}

damaged('repeated and out-of-order timestamps: saves in every container keep every packet', async () => {
  for (const [name, edit] of [['repeated', ts.repeatTimestamps(100)], ['dts-after-pts', ts.dtsAfterPts(100)]]) {
    const file = ts.rewriteTs(src, path.join(dir, `${name}.ts`), edit);
    const { rec, counts: got } = await recordAll(file, name);
    assert.equal(got, clean.counts, name);
    for (const ext of ['ts', 'mkv', 'flv']) {
      const clip = await rec.saveLast(60, path.join(dir, `${name}.${ext}`));
      // Matroska stores no dts (ffprobe derives it from pts, and the repeated frame keeps its twin's pts).
      const p = ext === 'mkv' ? await probe(clip.path) : await checkClip(clip.path, { passthrough: true });
      assert.equal(counts(p), clean.counts, `${name}.${ext}`);
    }
    await rec.stop();
  }
});

damaged('one packet with a wild PTS neither empties the buffer nor moves its newest instant', async () => {
  const file = ts.rewriteTs(src, path.join(dir, 'wild.ts'), ts.wildPts(100));
  const all = await recordAll(file, 'wild');
  assert.ok(Math.abs(all.stats.newest - clean.stats.newest) < 0.05, `newest ${all.stats.newest} vs ${clean.stats.newest}`);
  assert.equal(all.counts, clean.counts);
  await all.rec.stop();
  // With a 5 s buffer the cap holds, and saveLast(3) is the last 3 s.
  const { rec } = await recordToEnd({ source: file, bufferSeconds: 5 });
  const s = rec.stats;
  assert.ok(s.bufferedSeconds > 4 && s.bufferedSeconds <= 5.001, `buffered ${s.bufferedSeconds}`);
  const clip = await rec.saveLast(3, path.join(dir, 'wild-last.mp4'));
  assert.ok(Math.abs(clip.timeline.end - clean.stats.newest) < 0.05 && clip.duration >= 3 && clip.duration < 4.1, JSON.stringify(clip.timeline));
  await checkClip(clip.path, { seconds: clip.duration, tolerance: 0.002 });
  await rec.stop();
});

// The same with ffmpeg's setts filter on a Matroska file (no 33-bit wrap, millisecond time base).
function setts(input, out, expr) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', input, '-c', 'copy', '-bsf:v', expr, out], { timeout: 60_000 });
  return out;
}

damaged('a repeated timestamp in a Matroska source: every container keeps every packet', async () => {
  const mp4 = await makeMedia({ out: path.join(dir, 'nob.mp4'), seconds: 6, gopSeconds: 1 });
  const rep = setts(mp4, path.join(dir, 'repeated.mkv'), 'setts=pts=if(eq(N\\,60)\\,PREV_INPTS\\,PTS):dts=if(eq(N\\,60)\\,PREV_INDTS\\,DTS)');
  const { rec } = await recordToEnd({ source: rep });
  for (const ext of ['mp4', 'ts', 'mkv', 'flv']) {
    const clip = await rec.saveRange({ from: 1, to: 4, clock: 'timeline' }, path.join(dir, `repeated-mkv.${ext}`));
    // dts strictly increasing, decodes (the repeated frame is shown 1 ms after its twin)
    const p = await checkClip(clip.path, { seconds: 3, tolerance: 0.1, passthrough: true });
    assert.is(counts(p).video, 75, `${ext}: video packets`);
  }
  await rec.stop();
});

damaged('a corrupt ADTS header: the packet the conversion rejects is left out and counted, the clip is saved', async () => {
  const file = ts.rewriteTs(src, path.join(dir, 'adts.ts'), ts.corruptAdts(20));
  const { rec } = await recordToEnd({ source: file, bufferSeconds: 60 });
  for (const ext of ['mp4', 'mkv', 'flv', 'ts']) {
    const clip = await rec.saveLast(60, path.join(dir, `adts.${ext}`));
    // Only mp4/mkv/flv convert ADTS to raw AAC; TS keeps the packet as it came.
    const lost = ext === 'ts' ? 0 : 1;
    assert.is(clip.dropped, lost, `${ext}: dropped`);
    const p = await probe(clip.path);
    assert.equal(counts(p), { video: clean.counts.video, audio: clean.counts.audio - lost }, ext);
    assert.is(clip.packets, clean.counts.video + clean.counts.audio - lost, `${ext}: packets`);
  }
  assert.is(clean.clip.dropped, 0);
  await rec.stop();
});

damaged('a jump on one track (or all) is spliced: tracks stay aligned, no hole, nothing evicted', async () => {
  const cases = {
    'video +1 h': ts.jump('video', 6, 3600),
    'video +4.5 s': ts.jump('video', 6, 4.5),
    'video -5 s': ts.jump('video', 6, -5),
    'audio +1 h': ts.jump('audio', 6, 3600),
    'all +1 h': ts.all(ts.jump('video', 6, 3600), ts.jump('audio', 6, 3600)),
  };
  for (const [name, edit] of Object.entries(cases)) {
    const file = ts.rewriteTs(src, path.join(dir, 'jump.ts'), edit);
    const all = await recordAll(file, 'jump');
    const s = all.stats;
    assert.ok(Math.abs(s.newest - clean.stats.newest) < 0.1, `${name}: newest ${s.newest} vs ${clean.stats.newest}`);
    assert.equal(s.gaps, [], `${name}: gaps`);
    assert.equal(all.counts, clean.counts, name);
    assert.equal(holes(all.probe), [], name);
    const [v0, v1] = edges(all.probe, 'video'), [a0, a1] = edges(all.probe, 'audio');
    assert.ok(Math.abs(v0 - a0) < 0.1 && Math.abs(v1 - a1) < 0.1, `${name}: video ${v0}..${v1}, audio ${a0}..${a1}`);
    const last = await all.rec.saveLast(5, path.join(dir, 'jump-last.mp4'));
    const p = await checkClip(last.path, { seconds: 5, tolerance: 0.1, passthrough: true });
    assert.ok(edges(p, 'audio')[1] > 4.9 && edges(p, 'video')[1] > 4.9, `${name}: saveLast(5) ${JSON.stringify(p.streams)}`);
    await all.rec.stop();
  }
});

damaged('packets lost on one track leave a hole in that track only, kept in place and reported', async () => {
  for (const kind of ['audio', 'video']) {
    const file = ts.rewriteTs(src, path.join(dir, 'lost.ts'), ts.lose(kind, 6, 9));
    const all = await recordAll(file, 'lost');
    const s = all.stats;
    assert.ok(Math.abs(s.newest - clean.stats.newest) < 0.05, `${kind}: newest ${s.newest} vs ${clean.stats.newest}`);
    assert.is(s.gaps.length, 1, `${kind}: ${JSON.stringify(s.gaps)}`);
    const [g] = s.gaps;
    assert.ok(Math.abs(g.to - g.from - 3) < 0.2, `${kind}: ${JSON.stringify(g)}`);
    const h = holes(all.probe);
    assert.is(h.length, 1, h.join());
    assert.ok(h[0].startsWith(kind), h[0]);
    // In place: the file starts at the source's first keyframe, so the source's 6..9 s is the file's
    // (6..9) − that keyframe's time, on the timeline and in the saved file alike (within an audio PES,
    // which holds several AAC frames).
    const [from, to] = h[0].split(' ').filter((x) => /^[\d.]+$/.test(x)).map(Number);
    assert.ok(Math.abs(from - (6 - srcStart)) < 0.2 && Math.abs(to - (9 - srcStart)) < 0.2, `${kind}: hole ${h[0]}, source starts at ${srcStart}`);
    assert.ok(Math.abs(g.from - (6 - srcStart)) < 0.2 && Math.abs(g.to - (9 - srcStart)) < 0.2, `${kind}: gap ${JSON.stringify(g)}`);
    await all.rec.stop();
  }
});

damaged('a hole a single track leaves is kept and reported in stats.gaps', async () => {
  // Video only: nothing else to align with, so a +3 s step is a hole (3 s of lost frames), not a splice.
  const vsrc = await makeMedia({ out: path.join(dir, 'v.ts'), seconds: 10, gopSeconds: 1, audio: false });
  const file = ts.rewriteTs(vsrc, path.join(dir, 'hole.ts'), ts.jump('video', 5, 3));
  const { rec } = await recordToEnd({ source: file, bufferSeconds: 60 });
  const s = rec.stats;
  assert.is(s.gaps.length, 1, JSON.stringify(s.gaps));
  const [g] = s.gaps;
  assert.ok(Math.abs(g.to - g.from - 3) < 0.1, JSON.stringify(g));
  assert.ok(Math.abs(s.newest - 13) < 0.1, `newest ${s.newest}`);
  const clip = await rec.saveLast(60, path.join(dir, 'hole.mp4'));
  assert.is(clip.gaps, 1);
  const p = await checkClip(clip.path, { audio: false, passthrough: true });
  const h = holes(p);
  assert.is(h.length, 1, h.join());
  await rec.stop();
});

damaged('packets without any timestamp get them from the frame rate, as ffmpeg does', async () => {
  const mp4 = await makeMedia({ out: path.join(dir, 'raw-src.mp4'), seconds: 4, gopSeconds: 1, audio: false });
  const raw = path.join(dir, 'raw.h264');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-i', mp4, '-c', 'copy', '-f', 'h264', raw], { timeout: 60_000 });
  const { rec } = await recordToEnd({ source: raw });
  const s = rec.stats;
  assert.is(s.totalPackets, 100);
  assert.ok(Math.abs(s.bufferedSeconds - 4) < 0.001, `buffered ${s.bufferedSeconds}`);
  const clip = await rec.saveLast(2, path.join(dir, 'raw.mp4'));
  assert.is(clip.packets, 50);
  await checkClip(clip.path, { seconds: 2, tolerance: 0.001, audio: false });
  await rec.stop();
});

damaged('a video whose size is unknown (no SPS): the save says so, a .ts save keeps the packets', async () => {
  const file = ts.rewriteTs(src, path.join(dir, 'nosps.ts'), (pes) => {
    if (pes.kind !== 'video') return;
    const b = pes.payload; // NAL type 7 (SPS) -> 31 (unspecified)
    for (let i = 0; i + 3 < b.length; i++) if (b[i] === 0 && b[i + 1] === 0 && b[i + 2] === 1 && (b[i + 3] & 0x1f) === 7) b[i + 3] |= 0x1f;
  });
  const { rec, info } = await recordToEnd({ source: file, bufferSeconds: 60 });
  assert.is(info.streams[0].width, 0);
  const err = await rec.saveLast(5, path.join(dir, 'nosps.mp4')).catch((e) => e);
  assert.instance(err, RecorderError);
  assert.is(err.code, 'ERR_WRITE');
  assert.match(err.message, /h264 video has no known size \(0x0\).*SPS/);
  const clip = await rec.saveLast(5, path.join(dir, 'nosps.ts'));
  assert.ok(clip.packets > 300, `${clip.packets} packets`);
  await rec.stop();
});

damaged.run();

// ------------------------------------------------------------ fuzz: random byte damage, fixed seeds

const fuzz = suite('fuzz: byte flips and truncations');
let fuzzSrc;
fuzz.before(async () => {
  fuzzSrc = await makeMedia({ out: path.join(tmpDir(), 'fuzz.ts'), seconds: 6, gopSeconds: 1, bframes: 2 });
});

async function packetCounts(file) {
  const { code, out } = await run('ffprobe', ['-v', 'quiet', '-count_packets', '-show_entries', 'stream=codec_type,nb_read_packets', '-of', 'csv=p=0', file], { allowFail: true });
  if (code !== 0) return null;
  return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((l) => l.split(',')).map(([t, n]) => [t, Number(n)]));
}

fuzz('every mutant records or fails with a RecorderError; every save is readable, and keeps what ffmpeg -c copy keeps', async () => {
  const seeds = 18;
  const outcome = { recorded: 0, refused: 0, saved: 0, saveRefused: 0 };
  for (let seed = 1; seed <= seeds; seed++) {
    const rate = [0.0005, 0.002, 0.01][seed % 3];
    const dir = tmpDir();
    const file = ts.damageBytes(fuzzSrc, path.join(dir, 'm.ts'), { seed, rate, truncate: seed % 4 === 0 });
    const what = `seed ${seed} (flip rate ${rate}${seed % 4 === 0 ? ', truncated' : ''})`;
    await within((async () => {
      let rec;
      try {
        ({ rec } = await recordToEnd({ source: file, bufferSeconds: 60 }));
      } catch (e) {
        assert.instance(e, RecorderError, `${what}: start() ${e}`);
        outcome.refused++;
        return;
      }
      outcome.recorded++;
      // ffmpeg -c copy of the same mutant: the reference for what must survive.
      await run('ffmpeg', ['-v', 'quiet', '-y', '-i', file, '-c', 'copy', path.join(dir, 'ff.mkv')], { allowFail: true });
      const ff = (await packetCounts(path.join(dir, 'ff.mkv'))) ?? {};
      for (const ext of ['mkv', 'mp4', 'ts']) {
        let clip;
        try {
          clip = await rec.saveLast(60, path.join(dir, `out.${ext}`));
        } catch (e) {
          assert.instance(e, RecorderError, `${what}: save .${ext} ${e}`);
          outcome.saveRefused++;
          continue;
        }
        outcome.saved++;
        const got = await packetCounts(clip.path);
        assert.ok(got, `${what}: ffprobe cannot read the .${ext} save`);
        assert.is((got.video ?? 0) + (got.audio ?? 0), clip.packets, `${what}: .${ext} packets`);
        // The clip starts at the first keyframe: at most a couple of audio packets before it are not kept.
        for (const type of ['video', 'audio'])
          assert.ok((got[type] ?? 0) >= (ff[type] ?? 0) - 2, `${what}: .${ext} kept ${got[type]} ${type} packets, ffmpeg -c copy ${ff[type]}`);
      }
      await rec.stop();
    })(), budget(10), what);
  }
  // A RecorderError would be allowed; but the recorder of last resort saves every clip of these mutants.
  assert.ok(outcome.recorded >= seeds / 2 && outcome.saveRefused === 0, JSON.stringify(outcome));
  console.log(`  fuzz: ${JSON.stringify(outcome)}`);
});

fuzz.run();
