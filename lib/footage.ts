// footage(): a wall-clock range as one clip, from the disk recorder's segments and the memory buffer,
// joined natively (native/footage.cc) without re-encoding.
import path from 'node:path';
import { callSite, RecorderError, withCallSite } from './errors.js';
import { native } from './native.js';
import { checkKeys, checkWritable, fileUrl, invalid, isObject, nonEmptyString } from './options.js';
import { loadIndex } from './recording.js';
import type { SaveResult } from './types.js';

export interface FootageRange {
  /** 'YYYYMMDD_HHMMSS' (local time), a Date, or epoch milliseconds. */
  from: string | Date | number;
  to: string | Date | number;
}

/**
 * A SaveResult (see saveRange) plus where the clip came from. `start`/`end` are wall-clock times; `timeline`
 * is null when no packet of a running recorder's buffer or of its own segments places the clip on its
 * timeline (the standalone footage(), another run's segments).
 */
export interface FootageResult extends Omit<SaveResult, 'timeline' | 'mp3' | 'start' | 'end' | 'truncated'> {
  start: Date;
  end: Date;
  /**
   * The range reached the newest buffered instant and the packets that belong with it (audio that trails
   * the video) did not all arrive: stop(), the source's end, or 5 s passed.
   */
  truncated: boolean;
  timeline: { start: number; end: number } | null;
  /** Seconds taken from disk segments and from the memory buffer. */
  sources: { disk: number; memory: number };
  /** Parts of the range nothing covers (a source gap, recording not running, deleted segments). */
  missing: { from: Date; to: Date }[];
}

export interface FootageSegmentIn {
  url: string;
  startTime: number;
  /** Epoch ms just past its last packet (wall clock; `duration` is the media's length). */
  endTime: number;
  duration: number;
  timelineStart?: number;
  complete?: boolean;
}

const MUXERS: Record<string, string> = { '.mp4': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.ts': 'mpegts' };

/** A bound: 'YYYYMMDD_HHMMSS' in local time (as the original API took it), a Date or epoch ms. */
export function footageTime(name: string, v: unknown): number {
  if (v instanceof Date && !isNaN(v.getTime())) return v.getTime();
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/.exec(v);
    if (m) {
      const d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
      if (d.getMonth() === +m[2] - 1 && d.getDate() === +m[3] && +m[4] < 24 && +m[5] < 60 && +m[6] < 60) return d.getTime();
    }
  }
  throw invalid(name, "'YYYYMMDD_HHMMSS' (local time), a Date or epoch milliseconds", v);
}

export function normalizeFootage(range: unknown, file: unknown): { from: number; to: number; path: string; format: string } {
  if (!isObject(range)) throw invalid('range', '{ from, to }', range);
  checkKeys(range, ['from', 'to'], 'the range');
  const from = footageTime('from', range.from);
  const to = footageTime('to', range.to);
  if (!(to > from)) throw invalid('to', "a time after 'from'", range.to);
  const p = nonEmptyString('path', file);
  const format = MUXERS[path.extname(p).toLowerCase()];
  if (!format) throw new RecorderError('ERR_INVALID_ARG', `Cannot tell the container from '${p}': use a .mp4, .mov, .mkv or .ts path`);
  checkWritable(p);
  return { from, to, path: p, format };
}

export function toFootageResult(raw: any, requested: { from: number; to: number }, truncated = false): FootageResult {
  return {
    path: raw.path,
    format: raw.format,
    start: new Date(raw.startTime),
    end: new Date(raw.endTime),
    duration: raw.duration,
    requested: (requested.to - requested.from) / 1000,
    timeline: raw.timelineStart === undefined ? null : { start: raw.timelineStart, end: raw.timelineEnd },
    bytes: raw.bytes,
    packets: raw.packets,
    dropped: raw.dropped,
    truncated,
    gaps: raw.gaps,
    streams: raw.streams,
    sources: raw.sources,
    missing: raw.missing.map((m: { from: number; to: number }) => ({ from: new Date(m.from), to: new Date(m.to) })),
  };
}

/** The standalone footage(dir, range, path): from a recordings folder alone, no recorder running. */
export async function footage(dir: string, range: FootageRange, file: string): Promise<FootageResult> {
  const site = callSite(footage);
  try {
    const d = nonEmptyString('dir', dir);
    const n = normalizeFootage(range, file);
    const entries = await loadIndex(d);
    if (entries.length === 0) throw new RecorderError('ERR_RANGE_NOT_BUFFERED', `No recordings in '${d}'`);
    const segments: FootageSegmentIn[] = entries.map((e) => ({ url: fileUrl(path.join(d, e.file)), startTime: e.start, endTime: e.end, duration: e.duration }));
    return toFootageResult(await native().footage({ ...n, segments }), n);
  } catch (err) {
    throw withCallSite(err, site);
  }
}
