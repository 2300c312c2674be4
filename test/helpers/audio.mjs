// Audio made at test time for the meter and spike tests: flite speech (ffmpeg's flite source) and a
// synthesized melody, mixed in JavaScript with loud bursts at known offsets, sections of different
// overall loudness, and decoys that must not count.
import fs from 'node:fs';
import path from 'node:path';
import { random } from './ts-mutate.mjs';
import { run } from './media.mjs';

export const RATE = 48000;
const TEXT =
  'The quick brown fox jumps over the lazy dog. Yesterday we walked along the river and talked about the weather, ' +
  'the markets, and the long road home. She said that nothing would ever be the same again, but he only laughed and ' +
  'kept walking. In the morning the city was quiet, the streets were wet, and the first buses rolled past the square.';

const gain = (db) => 10 ** (db / 20);

/** Flite speech as mono float samples at RATE. */
export async function speech(dir, voice = 'slt') {
  const raw = path.join(dir, `speech-${voice}.f32`);
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `flite=text='${TEXT}':voice=${voice}`, '-ar', String(RATE), '-ac', '1', '-f', 'f32le', raw]);
  const b = fs.readFileSync(raw);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** A melody of plucked notes (velocities within 6 dB, some chords), seeded. */
export function music(seconds, seed = 1) {
  const out = new Float32Array(Math.round(seconds * RATE));
  const rnd = random(seed);
  const scale = [261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3];
  for (let t = 0; t < seconds - 0.1; ) {
    const dur = [0.25, 0.5, 0.5, 1][Math.floor(rnd() * 4)];
    const voices = 1 + Math.floor(rnd() * 3);
    for (let v = 0; v < voices; v++) {
      const f = scale[Math.floor(rnd() * scale.length)];
      const vel = gain(-6 * rnd()) * 0.15;
      const n = Math.min(Math.round(dur * 2 * RATE), out.length - Math.round(t * RATE));
      const i0 = Math.round(t * RATE);
      for (let i = 0; i < n; i++) {
        const s = i / RATE;
        let x = 0;
        for (let h = 0; h < 6; h++) x += 0.6 ** h * Math.sin(2 * Math.PI * f * (h + 1) * s);
        out[i0 + i] += vel * x * Math.min(1, s / 0.005) * Math.exp(-3 * s);
      }
    }
    t += dur;
  }
  return out;
}

/** Loops `src` to fill `seconds`. */
export function loop(src, seconds) {
  const out = new Float32Array(Math.round(seconds * RATE));
  for (let i = 0; i < out.length; i++) out[i] = src[i % src.length];
  return out;
}

/** A white-noise burst (a bang, a clap): 150 ms, 2 ms attack, decaying, peak about `peak` (linear). */
export function burst(peak, seed) {
  const rnd = random(seed);
  const n = Math.round(0.15 * RATE);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = i / RATE;
    out[i] = peak * (rnd() * 2 - 1) * Math.min(1, s / 0.002) * Math.exp(-s / 0.06);
  }
  return out;
}

/** Writes mono float samples as AAC (48 kHz stereo) in MPEG-TS, with a small video track if asked. */
export async function encode(samples, file, { video = false } = {}) {
  const raw = `${file}.f32`;
  fs.writeFileSync(raw, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength));
  const seconds = samples.length / RATE;
  const args = ['-v', 'error', '-y', '-f', 'f32le', '-ar', String(RATE), '-ac', '1', '-i', raw];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=160x120:rate=10`, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-pix_fmt', 'yuv420p');
  args.push('-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-t', String(seconds), file);
  await run('ffmpeg', args);
  fs.rmSync(raw);
  return file;
}

/** Adds `src` (times `g`) into `dst` from `at` seconds; clips at ±1 as a real signal would. */
export function mix(dst, src, at, g = 1) {
  const i0 = Math.round(at * RATE);
  for (let i = 0; i < src.length && i0 + i < dst.length; i++) dst[i0 + i] = Math.max(-1, Math.min(1, dst[i0 + i] + g * src[i]));
}

/** Scales [from, to) seconds of `x` by `db`, with a 10 ms ramp (a section of other overall loudness). */
export function scale(x, from, to, db) {
  const g = gain(db);
  const a = Math.round(from * RATE), b = Math.min(x.length, Math.round(to * RATE)), ramp = RATE / 100;
  for (let i = a; i < b; i++) {
    const k = Math.min(1, (i - a) / ramp, (b - i) / ramp);
    x[i] *= 1 + (g - 1) * k;
  }
}
