// A small MPEG-TS mutator: rewrites PES timestamps and payload bytes of a TS file the ffmpeg CLI
// made, to reproduce what damaged streams carry (cameras, satellite and cable TS, lossy links).
// Only what a PES header already holds is changed: nothing is inserted or removed, so the result
// stays a valid TS that libavformat demuxes packet by packet.
import fs from 'node:fs';

const TS = 188;
const CLOCK = 90000; // PES timestamps count 90 kHz ticks, 33 bits
const WRAP = 2 ** 33;

const readTs = (b, o) =>
  ((b[o] >> 1) & 0x07) * 2 ** 30 + ((b[o + 1] << 7) | (b[o + 2] >> 1)) * 2 ** 15 + ((b[o + 3] << 7) | (b[o + 4] >> 1));
function writeTs(b, o, v) {
  v = ((Math.round(v) % WRAP) + WRAP) % WRAP;
  const hi = Math.floor(v / 2 ** 30), mid = Math.floor(v / 2 ** 15) % 2 ** 15, lo = v % 2 ** 15;
  b[o] = (b[o] & 0xf0) | (hi << 1) | 1;
  b[o + 1] = mid >> 7;
  b[o + 2] = ((mid & 0x7f) << 1) | 1;
  b[o + 3] = lo >> 7;
  b[o + 4] = ((lo & 0x7f) << 1) | 1;
}

// A TS packet turned into a null packet (PID 0x1FFF): demuxers skip it.
function nullPacket(b, o) {
  b[o + 1] = (b[o + 1] & 0xe0) | 0x1f;
  b[o + 2] = 0xff;
}

/**
 * Calls `edit(pes)` for every PES that starts in `file` and writes the result to `out`.
 * pes: { kind: 'video' | 'audio', n (index within its kind), pts, dts (seconds; dts undefined when the
 * header has none), payload (the bytes after the PES header in its first TS packet, a live view) }.
 * Set pes.pts / pes.dts (seconds) to rewrite them, or pes.drop to remove the PES (its TS packets become
 * null packets, as if lost on the way).
 */
export function rewriteTs(file, out, edit) {
  const b = Buffer.from(fs.readFileSync(file));
  const count = { video: 0, audio: 0 };
  const dropping = new Set(); // PIDs whose current PES was dropped
  for (let o = 0; o + TS <= b.length; o += TS) {
    if (b[o] !== 0x47) continue;
    const pid = ((b[o + 1] & 0x1f) << 8) | b[o + 2];
    if (!(b[o + 1] & 0x40)) {
      if (dropping.has(pid)) nullPacket(b, o);
      continue; // not a payload unit start
    }
    dropping.delete(pid);
    const afc = (b[o + 3] >> 4) & 3;
    if (!(afc & 1)) continue;
    const p = o + 4 + (afc & 2 ? 1 + b[o + 4] : 0);
    if (p + 14 > o + TS || b[p] !== 0 || b[p + 1] !== 0 || b[p + 2] !== 1) continue; // PSI, not PES
    const sid = b[p + 3];
    const kind = sid >= 0xe0 && sid <= 0xef ? 'video' : sid >= 0xc0 && sid <= 0xdf ? 'audio' : null;
    if (!kind) continue;
    const flags = b[p + 7] >> 6;
    if (!(flags & 2)) continue;
    const headerEnd = p + 9 + b[p + 8];
    const pts = readTs(b, p + 9) / CLOCK;
    const dts = flags & 1 ? readTs(b, p + 14) / CLOCK : undefined;
    const pes = { kind, n: count[kind]++, pts, dts, payload: b.subarray(headerEnd, o + TS) };
    edit(pes);
    if (pes.drop) {
      dropping.add(pid);
      nullPacket(b, o);
      continue;
    }
    if (pes.pts !== pts) writeTs(b, p + 9, pes.pts * CLOCK);
    if (dts !== undefined && pes.dts !== dts) writeTs(b, p + 14, pes.dts * CLOCK);
  }
  fs.writeFileSync(out, b);
  return out;
}

// ------------------------------------------------------------ the damage real streams carry

/** Video PES `n` repeats the timestamps of the one before it. */
export function repeatTimestamps(n) {
  let prev;
  return (pes) => {
    if (pes.kind !== 'video') return;
    if (pes.n === n && prev) Object.assign(pes, prev);
    prev = { pts: pes.pts, dts: pes.dts };
  };
}

/** The first video PES at or after `n` that carries a DTS gets DTS = PTS + `by` seconds. */
export function dtsAfterPts(n, by = 0.033) {
  let done = false;
  return (pes) => {
    if (pes.kind !== 'video' || pes.n < n || done || pes.dts === undefined) return;
    pes.dts = pes.pts + by;
    done = true;
  };
}

/** Video PES `n` gets a PTS `by` seconds later (its DTS stays right). */
export function wildPts(n, by = 7200) {
  return (pes) => {
    if (pes.kind === 'video' && pes.n === n) pes.pts += by;
  };
}

/**
 * The ADTS header at the start of audio PES `n` turns into one the AAC-in-MP4 conversion rejects
 * (CRC present with several raw data blocks: "not yet implemented in FFmpeg, patches welcome").
 * Frame length and sync stay, so the parser still splits frames where they are.
 */
export function corruptAdts(n) {
  return (pes) => {
    const h = pes.payload;
    if (pes.kind !== 'audio' || pes.n !== n || h.length < 7 || h[0] !== 0xff || (h[1] & 0xf0) !== 0xf0) return;
    h[1] &= 0xfe; // protection_absent = 0
    h[6] |= 0x03; // number_of_raw_data_blocks_in_frame = 3
  };
}

/** Every PES of `kind` from `at` seconds (its own clock) on is moved `by` seconds. */
export function jump(kind, at, by) {
  let on = false;
  return (pes) => {
    if (pes.kind !== kind) return;
    on ||= (pes.dts ?? pes.pts) >= at;
    if (!on) return;
    pes.pts += by;
    if (pes.dts !== undefined) pes.dts += by;
  };
}

/** Every PES of `kind` presented from `from` to `to` seconds (its own clock) is lost. */
export function lose(kind, from, to) {
  return (pes) => {
    if (pes.kind === kind && pes.pts >= from && pes.pts < to) pes.drop = true;
  };
}

/** Several edits in turn. */
export const all = (...edits) => (pes) => edits.forEach((e) => e(pes));

// ------------------------------------------------------------ random damage with a fixed seed

/** mulberry32: a small PRNG, so a seed names the same damage on every machine. */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Random bytes flipped (a `rate` share of the bytes after the first `keep`, so the stream can still
 * open), and optionally the file cut at a random point past `keep`.
 */
export function damageBytes(file, out, { seed, rate = 0.001, truncate = false, keep = 64 * TS }) {
  const rnd = random(seed);
  let b = Buffer.from(fs.readFileSync(file));
  const flips = Math.round((b.length - keep) * rate);
  for (let i = 0; i < flips; i++) {
    const at = keep + Math.floor(rnd() * (b.length - keep));
    b[at] ^= 1 << Math.floor(rnd() * 8);
  }
  if (truncate) b = b.subarray(0, keep + Math.floor(rnd() * (b.length - keep)));
  fs.writeFileSync(out, b);
  return out;
}
