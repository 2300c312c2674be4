// Raw audio encoded once at ingest follows the source's timestamps: a hole (an xrun, a device that lost
// samples) stays where the source put it instead of pulling the audio ahead of the video for good.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { recordToEnd } from './helpers/record.mjs';
import { probe, tmpDir } from './helpers/media.mjs';

const enc = suite('raw audio encoded at ingest');

// PCM with 1008-sample packets (never a whole number of AAC frames) and a hole in its timestamps at 4 s.
function pcmWithHole(file, hole) {
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10:samples_per_frame=1008',
    '-af', `asetpts='if(gte(T,4),PTS+${hole}/TB,PTS)'`, '-c:a', 'pcm_s16le', file]);
}

async function record(file, out) {
  const { rec, info } = await recordToEnd({ source: file });
  assert.is(info.streams[0].encodedFrom, 'pcm_s16le');
  const clip = await rec.saveLast(60, out);
  await rec.stop();
  return clip;
}

// Where the decoded audio is silent, on the timestamps the file gives (gaps filled as a player would).
function silences(file) {
  const { stderr } = spawnText('ffmpeg', ['-v', 'info', '-i', file, '-af', 'aresample=async=1:first_pts=0,silencedetect=n=-50dB:d=0.2', '-f', 'null', '-']);
  const starts = [...stderr.matchAll(/silence_start: ([\d.]+)/g)].map((m) => Number(m[1]));
  const ends = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
  return starts.map((s, i) => [s, ends[i]]);
}

for (const [hole, how] of [[0.5, 'filled with silence'], [2, 'skipped by moving the timestamps']]) {
  enc(`a ${hole} s hole in the source's timestamps stays where the source has it (${how})`, async () => {
    const dir = tmpDir();
    const src = path.join(dir, 'hole.mkv');
    pcmWithHole(src, hole);
    const clip = await record(src, path.join(dir, 'hole.mp4'));
    assert.ok(Math.abs(clip.duration - (10 + hole)) < 0.03, `duration ${clip.duration}`);
    const quiet = silences(clip.path);
    assert.is(quiet.length, 1, JSON.stringify(quiet));
    const [from, to] = quiet[0];
    // The hole keeps its length to the sample frame, at its place (the whole file starts up to ~1.5 AAC
    // frames late: the encoder's priming, which an audio-only source has nothing to anchor against).
    assert.ok(Math.abs(to - from - hole) < 0.005, `silence of ${to - from} s, expected ${hole}`);
    assert.ok(from >= 4 - 0.005 && from < 4.05, `silence from ${from} to ${to} s, expected 4 to ${4 + hole}`);
  });
}

enc('a source that repeats 0.1 s of time (its clock ran fast): the surplus is dropped, nothing else', async () => {
  const dir = tmpDir();
  const src = path.join(dir, 'back.mkv');
  execFileSync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10:samples_per_frame=1008',
    '-af', "asetpts='if(gte(T,4),PTS-0.1/TB,PTS)'", '-c:a', 'pcm_s16le', src]);
  const clip = await record(src, path.join(dir, 'back.mp4'));
  assert.ok(Math.abs(clip.duration - 9.9) < 0.03, `duration ${clip.duration}`);
  assert.equal(silences(clip.path), [], 'the audio has a hole');
  const p = await probe(clip.path);
  const pts = p.packets[0].map((k) => k.pts);
  for (let i = 1; i < pts.length; i++) assert.ok(Math.abs(pts[i] - pts[i - 1] - 1024 / 48000) < 1e-4, `packet ${i}: ${pts[i - 1]} -> ${pts[i]}`);
});

function spawnText(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  return { stderr: r.stderr };
}

enc.run();
