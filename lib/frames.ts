// Frames from the buffer: grabFrame's options and result. Decoding, scaling and encoding run natively on
// a worker (native/frame_grab.cc); writing `path` is asynchronous and atomic, like saves.
import { rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RecorderError } from './errors.js';
import type { NativeRecorder } from './native.js';
import { checkKeys, invalid, isObject, nonEmptyString } from './options.js';

export type FrameFormat = 'jpeg' | 'png' | 'rgb24' | 'rgba' | 'gray';
const FORMATS: readonly FrameFormat[] = ['jpeg', 'png', 'rgb24', 'rgba', 'gray'];

export interface GrabFrameOptions {
  /**
   * 'latest' (default): the newest frame. 'keyframe': the newest keyframe (one decode: the fast path).
   * An instant (a Date or epoch ms; timeline seconds with `clock: 'timeline'`): the frame on screen at
   * that instant, the last one presented at or before it.
   */
  at?: 'latest' | 'keyframe' | Date | number;
  clock?: 'wall' | 'timeline';
  /** 'jpeg' (default), 'png', or raw pixels: 'rgb24', 'rgba', 'gray' (rows of `stride` bytes). */
  format?: FrameFormat;
  /** JPEG quality, 1–100. Default 90. */
  quality?: number;
  /** Output size in pixels (1–16384); one alone keeps the aspect ratio. Default: the frame's own. */
  width?: number;
  height?: number;
  /** Also write the image here (a temporary file renamed into place). */
  path?: string;
}

export interface Frame {
  data: Buffer;
  format: FrameFormat;
  width: number;
  height: number;
  /** Bytes per row, for raw formats. */
  stride?: number;
  /** Wall-clock time the frame is shown at (null for a source without a wall clock). */
  time: Date | null;
  /** Timeline seconds the frame is shown at (its presentation time). */
  timeline: number;
  keyframe: boolean;
  path?: string;
}

const size = (name: string, v: unknown): number | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 16384) throw invalid(name, 'a whole number of pixels from 1 to 16384', v);
  return v;
};

export interface GrabContext {
  native: NativeRecorder;
  wallClock: boolean;
}

export async function grabFrame(ctx: GrabContext, options: GrabFrameOptions | undefined): Promise<Frame> {
  const o: Record<string, unknown> = options === undefined ? {} : isObject(options) ? options : {};
  if (options !== undefined && !isObject(options)) throw invalid('options', 'an object of grab options', options);
  checkKeys(o, ['at', 'clock', 'format', 'quality', 'width', 'height', 'path'], 'grabFrame options');
  const format = (o.format ?? 'jpeg') as FrameFormat;
  if (!FORMATS.includes(format)) throw invalid('format', `one of ${FORMATS.join(', ')}`, o.format);
  let quality = 90;
  if (o.quality !== undefined) {
    if (typeof o.quality !== 'number' || !Number.isInteger(o.quality) || o.quality < 1 || o.quality > 100)
      throw invalid('quality', 'a whole number from 1 to 100', o.quality);
    if (format !== 'jpeg') throw invalid('quality', "a quality only with format 'jpeg'", o.quality);
    quality = o.quality;
  }
  const width = size('width', o.width), height = size('height', o.height);
  const clock = o.clock ?? 'wall';
  if (clock !== 'wall' && clock !== 'timeline') throw invalid('clock', "'wall' or 'timeline'", clock);
  const file = o.path === undefined ? undefined : nonEmptyString('path', o.path);
  let at: string | number = 'latest';
  if (o.at === 'latest' || o.at === 'keyframe' || o.at === undefined) at = (o.at as string | undefined) ?? 'latest';
  else if (clock === 'timeline') {
    if (typeof o.at !== 'number' || !Number.isFinite(o.at)) throw invalid('at', "'latest', 'keyframe' or timeline seconds (clock: 'timeline')", o.at);
    at = o.at;
  } else {
    const ms = o.at instanceof Date ? o.at.getTime() : typeof o.at === 'number' ? o.at : NaN;
    if (!Number.isFinite(ms)) throw invalid('at', "'latest', 'keyframe', a Date or epoch milliseconds", o.at);
    if (!ctx.wallClock)
      throw new RecorderError('ERR_INVALID_ARG', "This source has no wall clock: give the instant in timeline seconds with { clock: 'timeline' }");
    at = ctx.native.toTimeline(ms);
  }
  const raw = await ctx.native.grab({ at, format, quality, width, height });
  const frame: Frame = {
    data: raw.data,
    format,
    width: raw.width,
    height: raw.height,
    ...(raw.stride ? { stride: raw.stride } : {}),
    time: raw.time === null ? null : new Date(raw.time),
    timeline: raw.timeline,
    keyframe: raw.keyframe,
  };
  if (file) {
    await writeAtomically(file, frame.data);
    frame.path = file;
  }
  return frame;
}

async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.partial`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new RecorderError('ERR_WRITE', `Could not write '${file}': ${(err as Error).message}`);
  }
}
