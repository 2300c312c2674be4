// Frames from the buffer: grabFrame's options and result. Decoding, scaling and encoding run natively on
// a worker (native/frame_grab.cc); writing `path` is asynchronous and atomic, like saves.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { RecorderError } from './errors.js';
import type { NativeRecorder } from './native.js';
import { checkKeys, invalid, isObject, nonEmptyString, positiveSeconds } from './options.js';

export type FrameFormat = 'jpeg' | 'png' | 'rgb24' | 'rgba' | 'gray';
export const FORMATS: readonly FrameFormat[] = ['jpeg', 'png', 'rgb24', 'rgba', 'gray'];

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

/** The picture options grabFrame, captureFrames, frames() and snapshot() share, checked. */
export function imageOptions(o: Record<string, unknown>): { format: FrameFormat; quality: number; width?: number; height?: number } {
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
  return { format, quality, width, height };
}

export interface GrabContext {
  native: NativeRecorder;
  wallClock: boolean;
}

export async function grabFrame(ctx: GrabContext, options: GrabFrameOptions | undefined, keyframeOnly = false): Promise<Frame> {
  const o: Record<string, unknown> = options === undefined ? {} : isObject(options) ? options : {};
  if (options !== undefined && !isObject(options)) throw invalid('options', 'an object of grab options', options);
  checkKeys(o, ['at', 'clock', 'format', 'quality', 'width', 'height', 'path'], 'grabFrame options');
  const { format, quality, width, height } = imageOptions(o);
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
  const raw = await ctx.native.grab({ at, keyframeOnly, format, quality, width, height });
  return toFrame(raw, format, file);
}

/** A native frame as a Frame, written to `file` (atomically) when given. */
export async function toFrame<T extends object = object>(
  raw: { data: Buffer; width: number; height: number; stride?: number; time: number | null; timeline: number; keyframe: boolean },
  format: FrameFormat,
  file: string | undefined,
  extra?: T,
): Promise<Frame & T> {
  const frame = {
    data: raw.data,
    format,
    width: raw.width,
    height: raw.height,
    ...(raw.stride ? { stride: raw.stride } : {}),
    time: raw.time === null ? null : new Date(raw.time),
    timeline: raw.timeline,
    keyframe: raw.keyframe,
    ...extra,
  } as Frame & T;
  if (file) {
    await writeAtomically(file, frame.data);
    frame.path = file;
  }
  return frame;
}

/** Writes `data` to a temporary file beside `file`, then renames it into place. */
export async function writeAtomically(file: string, data: Buffer): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.partial`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new RecorderError('ERR_WRITE', `Could not write '${file}': ${(err as Error).message}`);
  }
}

export interface CaptureOptions {
  /** One frame per this many seconds of the recorder's timeline. */
  everySeconds: number;
  /** Where the frames go (created if missing). */
  dir: string;
  format?: 'jpeg' | 'png';
  quality?: number;
  width?: number;
  height?: number;
  /**
   * Take the keyframe at or before each instant: one decode per frame. Default: when the interval is at
   * least the GOP, else the frame on screen at each instant.
   */
  keyframesOnly?: boolean;
  /** The file name (within dir). Default `frame-<ISO time>.<ext>` (':' as '-'), or the timeline seconds. */
  name?: (frame: { time: Date | null; timeline: number }) => string;
}

export interface CaptureContext extends GrabContext {
  /** The buffer's newest instant (timeline s), or null when there is no buffer. */
  newest(): number | null;
  /** Seconds per GOP lately (null: not known yet). */
  gopSeconds(): number | null;
}

/**
 * Frames at regular instants of the recorder's timeline, grabbed from the buffer: a busy event loop
 * delays a frame, never loses it. Emits 'frame' (a Frame with its path) and 'error' (a failed grab or
 * write; the next instant is tried as usual).
 */
export class FrameCapture extends EventEmitter<{ frame: [frame: Frame]; error: [error: RecorderError] }> {
  readonly #ctx: CaptureContext;
  readonly #o: Required<Pick<CaptureOptions, 'everySeconds' | 'dir'>> & CaptureOptions;
  readonly #timer: NodeJS.Timeout;
  #next: number | null = null;
  #busy: Promise<void> | null = null;
  #stopped = false;

  constructor(ctx: CaptureContext, options: CaptureOptions) {
    super();
    if (!isObject(options)) throw invalid('options', 'an object { everySeconds, dir, … }', options);
    checkKeys(options, ['everySeconds', 'dir', 'format', 'quality', 'width', 'height', 'keyframesOnly', 'name'], 'captureFrames options');
    const every = positiveSeconds('everySeconds', options.everySeconds);
    if (every < 0.01 || every > 86400) throw invalid('everySeconds', 'a number of seconds from 0.01 to 86400', every);
    const dir = nonEmptyString('dir', options.dir);
    if (options.format !== undefined && options.format !== 'jpeg' && options.format !== 'png') throw invalid('format', "'jpeg' or 'png'", options.format);
    if (options.keyframesOnly !== undefined && typeof options.keyframesOnly !== 'boolean') throw invalid('keyframesOnly', 'a boolean', options.keyframesOnly);
    if (options.name !== undefined && typeof options.name !== 'function') throw invalid('name', 'a function (frame) => file name', options.name);
    mkdirSync(dir, { recursive: true });
    this.#ctx = ctx;
    this.#o = { ...options, everySeconds: every, dir };
    // The timer only looks at the buffer; the instants are the timeline's, so its drift does not matter.
    this.#timer = setInterval(() => this.#tick(), Math.min(250, (every * 1000) / 2));
    this.#timer.unref();
    this.#tick();
  }

  /** Stops capturing; resolves when the frame being written (if any) is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#busy;
  }

  #tick(): void {
    if (this.#stopped || this.#busy) return;
    const newest = this.#ctx.newest();
    if (newest === null) return;
    const every = this.#o.everySeconds;
    // From the next instant on the grid after now; then every instant the buffer has passed.
    this.#next ??= Math.ceil(newest / every - 1e-9) * every;
    if (newest <= this.#next) return;
    this.#busy = this.#capture(this.#next).finally(() => {
      this.#busy = null;
      this.#tick(); // catch up: more instants may have passed meanwhile
    });
    this.#next += every;
  }

  async #capture(t: number): Promise<void> {
    const o = this.#o;
    const gop = this.#ctx.gopSeconds();
    const keyOnly = o.keyframesOnly ?? (gop !== null && o.everySeconds >= gop);
    try {
      const frame = await grabFrame(this.#ctx, { at: t, clock: 'timeline', format: o.format ?? 'jpeg', quality: o.quality, width: o.width, height: o.height }, keyOnly);
      if (this.#stopped) return;
      const name = o.name ? o.name({ time: frame.time, timeline: frame.timeline }) : defaultName(frame);
      if (typeof name !== 'string' || !name) throw new RecorderError('ERR_INVALID_ARG', `name returned ${String(name)}, not a file name`);
      const file = path.join(o.dir, name);
      await writeAtomically(file, frame.data);
      frame.path = file;
      this.emit('frame', frame);
    } catch (err) {
      const e = err instanceof RecorderError ? err : new RecorderError('ERR_WRITE', String(err));
      // An unheard 'error' would throw: it is only emitted to listeners.
      if (this.listenerCount('error') > 0) this.emit('error', e);
    }
  }
}

function defaultName(f: Frame): string {
  const ext = f.format === 'jpeg' ? 'jpg' : f.format;
  // Sortable in time: ISO times with milliseconds, or zero-padded timeline seconds.
  const stamp = f.time ? f.time.toISOString().replace(/:/g, '-') : `t${f.timeline.toFixed(3).padStart(12, '0')}s`;
  return `frame-${stamp}.${ext}`;
}
