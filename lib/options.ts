// Option checks: every value is validated here, before any native work, with a message that names the
// option, what was expected and what was received.
import { accessSync, constants, existsSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RecorderError } from './errors.js';
import type { Mp3Options } from './audio_export.js';
import { normalizeRecord, type RecordOptions } from './recording.js';
import { defaultDeviceFormat } from './devices.js';
import { normalizeYtdlp, type NormalizedYtdlp, type YtdlpOptions } from './ytdlp.js';

export interface ReconnectOptions {
  /** Seconds before the first retry (doubles each attempt). Default 1. */
  delay?: number;
  /** Upper bound of the delay, seconds. Default 30. */
  maxDelay?: number;
  /** Give up after this many failed attempts in a row. Default Infinity. */
  maxAttempts?: number;
}

export interface EncoderOptions {
  /** Encoder for raw video: 'libx264' (default when available) or 'mjpeg'. */
  videoCodec?: 'libx264' | 'mjpeg';
  /**
   * Threads of the video encoder for raw input (cameras, lavfi). Default 2: enough for 1080p30 with
   * 'veryfast', and many cameras on one machine do not each take every core.
   */
  threads?: number;
  /** x264 preset. Default 'veryfast'. */
  preset?: string;
  /** Keyframe interval, seconds: the granularity of saves and eviction. Default 2. */
  gopSeconds?: number;
  /** Target video bitrate, bits/s. Default: quality-based. */
  videoBitrate?: number;
  /** AAC bitrate, bits/s. Default 128000. */
  audioBitrate?: number;
}

export interface RecorderOptions {
  /** URL, file path, device name or (with format 'lavfi') a filter graph. */
  source: string;
  /** Input format or device: 'lavfi', 'v4l2', 'mpegts', 'hls'… Default: probed. */
  format?: string;
  /** Demuxer and protocol options, as on the ffmpeg command line before -i (e.g. { rtsp_transport: 'tcp' }). */
  inputOptions?: Record<string, string | number | boolean>;
  /** 'native' reads at real-time speed (ffmpeg -re), a number at that multiple of it. Default: as delivered. */
  readRate?: 'native' | number;
  /** Seconds kept in memory. Default 300. */
  bufferSeconds?: number;
  /** Bytes kept in memory at most. Default 512 MiB. */
  maxBufferBytes?: number;
  /** Seconds to wait for the source to open. Default 15. */
  openTimeout?: number;
  /** Seconds without data before the source counts as failed. Default 10. */
  stallTimeout?: number;
  /** Reconnect when the source ends or fails. Default true for network sources, false for files. */
  reconnect?: boolean | ReconnectOptions;
  /** How raw input (lavfi, cameras) is encoded once at ingest. */
  encoder?: EncoderOptions;
  /** Seconds between 'stats' events; 0 turns them off. Default 1. */
  statsInterval?: number;
  /**
   * The audio meter (levels and spikes). It runs only while levels are wanted (a 'level' listener, a
   * spike handler, levels()), or always with `true`. windowSeconds: level window, 0.01–1, default 0.05;
   * levelInterval: at most one 'level' event per this many seconds, default 0.1.
   */
  meter?: boolean | MeterOptions;
  /**
   * `source` is a page (YouTube and every site yt-dlp knows): yt-dlp resolves it to a media URL and its
   * HTTP headers before start() and again before every reconnect. A video that is not live is read at
   * real-time speed, so the buffer behaves as live.
   */
  ytdlp?: boolean | YtdlpOptions;
  /**
   * Record to disk around the clock as well: crash-safe segments (fragmented MP4 or MPEG-TS) of the
   * same packets, with an index and retention. See the README's "Continuous recording".
   */
  record?: RecordOptions;
  /** A camera (v4l2) that is not there: use the first camera there is, and say so ('warning' WARN_DEVICE_FALLBACK). */
  fallback?: boolean;
}

export interface MeterOptions {
  windowSeconds?: number;
  levelInterval?: number;
}

export interface SaveOptions {
  /** Container: 'mp4', 'mov', 'mkv', 'ts', 'flv'. Default: from the file extension. */
  format?: string;
  /** mp4/mov: put the index first so the file plays while downloading. Default false. */
  faststart?: boolean;
  /** Cancels the save (including its wait for post-roll): an abort before the promise settles rejects it with ERR_ABORTED and leaves no file. */
  signal?: AbortSignal;
  /**
   * A post-roll cut short by stop() or by the source's end saves what there is (`truncated: true` in the
   * result) instead of rejecting with ERR_STOPPED / ERR_SOURCE_ENDED. Default false.
   */
  partial?: boolean;
  /**
   * Also write the clip's audio as MP3, from the same packets: a path, or `{ path, ...Mp3Options }`. The
   * result's `mp3` describes it; a failure of either file removes both.
   */
  mp3?: string | ({ path: string } & Mp3Options);
}

export interface SaveRange {
  from: Date | number;
  to: Date | number;
  /** 'wall' (default): Dates or epoch milliseconds. 'timeline': seconds on the recorder timeline. */
  clock?: 'wall' | 'timeline';
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v == null) return String(v);
  if (v instanceof Date) return `Date(${isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()})`;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function invalid(name: string, expected: string, actual: unknown): RecorderError {
  return new RecorderError('ERR_INVALID_ARG', `Expected ${expected} for '${name}' but received ${describe(actual)}`);
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** Rejects keys that are not options (a misspelled key would otherwise be silently ignored). */
export function checkKeys(obj: object, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((k) => editDistance(k.toLowerCase(), key.toLowerCase()) <= Math.max(2, Math.floor(k.length / 3)));
    throw new RecorderError(
      'ERR_INVALID_ARG',
      `Unknown option '${key}' in ${where}` + (near ? `. Did you mean '${near}'?` : `. Known options: ${allowed.join(', ')}`),
    );
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function positiveSeconds(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw invalid(name, 'a positive number of seconds', v);
  return v;
}

export function nonNegativeSeconds(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalid(name, 'a number of seconds (0 or more)', v);
  return v;
}

export function positiveInteger(name: string, v: unknown, allowInfinity = false): number {
  if (allowInfinity && v === Infinity) return v;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw invalid(name, 'a positive integer', v);
  return v;
}

export function nonEmptyString(name: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw invalid(name, 'a non-empty string', v);
  // C strings end at NUL: the native side would silently see a shorter value.
  if (v.includes('\0')) throw invalid(name, 'a string without NUL characters', v);
  return v;
}

/**
 * The documented range of every numeric option: values outside are refused (ERR_INVALID_ARG naming the
 * range), values inside are honoured. [min, max, unit, integer?]
 */
export const RANGES = {
  bufferSeconds: [0.1, 7 * 86400, 'seconds'],
  maxBufferBytes: [1, 2 ** 48, 'bytes', true],
  openTimeout: [0.1, 3600, 'seconds'],
  stallTimeout: [0.1, 3600, 'seconds'],
  statsInterval: [0.01, 86400, 'seconds'],
  readRate: [0.01, 100, 'times real time'],
  'reconnect.delay': [0.01, 3600, 'seconds'],
  'reconnect.maxDelay': [0.01, 86400, 'seconds'],
  'reconnect.maxAttempts': [1, 1e9, 'attempts', true],
  'encoder.gopSeconds': [0.01, 600, 'seconds'],
  'encoder.videoBitrate': [10_000, 1e9, 'bits/s', true],
  'encoder.audioBitrate': [8_000, 1e6, 'bits/s', true],
  'meter.windowSeconds': [0.01, 1, 'seconds'],
  'meter.levelInterval': [0.01, 3600, 'seconds'],
  'spike.baselineSeconds': [1, 600, 'seconds'],
  'spike.minGapSeconds': [0, 86400, 'seconds'],
  'spike.preRoll': [0, 3600, 'seconds'],
  'spike.postRoll': [0.01, 3600, 'seconds'],
} as const satisfies Record<string, readonly [number, number, string, boolean?]>;

/** A number within RANGES[name] (after the basic checks, so that -3 still reads "a positive number"). */
export function inRange(name: keyof typeof RANGES, v: number): number {
  const [min, max, unit] = RANGES[name];
  if (v < min || v > max) throw invalid(name, `a number of ${unit} from ${min} to ${max}`, v);
  return v;
}

const RECORDER_KEYS = [
  'source', 'format', 'inputOptions', 'readRate', 'bufferSeconds', 'maxBufferBytes', 'openTimeout',
  'stallTimeout', 'reconnect', 'encoder', 'statsInterval', 'meter', 'ytdlp', 'record', 'fallback',
] as const;
const METER_KEYS = ['windowSeconds', 'levelInterval'] as const;
const RECONNECT_KEYS = ['delay', 'maxDelay', 'maxAttempts'] as const;
const ENCODER_KEYS = ['videoCodec', 'preset', 'gopSeconds', 'videoBitrate', 'audioBitrate', 'threads'] as const;

/**
 * A source counts as a local file when it names no device format and either names no protocol or is an
 * existing file (`cam-12:00:00.mp4` looks like protocol "cam-12" to libavformat, but is a file here).
 */
export function isLocalFile(source: string, format?: string): boolean {
  if (format) return false;
  if (source.startsWith('file:') || !/^[a-z][a-z0-9+.-]*:/i.test(source)) return true;
  return !source.includes('://') && existsSync(source);
}

function isRegularFile(source: string): boolean {
  const file = source.startsWith('file:') ? source.slice(5) : source;
  try {
    return statSync(file).isFile();
  } catch {
    return true; // not there (yet): start() will say so; a missing file is no live feed either
  }
}

/** A path as a file: URL for libavformat, so that no ':' in it is read as a protocol. */
export function fileUrl(source: string): string {
  return source.startsWith('file:') ? source : `file:${path.resolve(source)}`;
}

export interface NormalizedOptions {
  native: Record<string, unknown>;
  statsInterval: number;
  ytdlp: NormalizedYtdlp | null;
  /** readRate / reconnect were given (a yt-dlp video on demand otherwise reads at real-time speed, once). */
  readRateSet: boolean;
  reconnectSet: boolean;
  meter: { windowSeconds: number; levelInterval: number; always: boolean };
}

/** What a Recorder and snapshot() share: the source, its format and its demuxer options. */
export function sourceFields(o: Record<string, unknown>): { source: string; format?: string; inputOptions: Record<string, string> } {
  const source = nonEmptyString('source', o.source);
  const format = o.format === undefined ? undefined : nonEmptyString('format', o.format);
  const inputOptions: Record<string, string> = {};
  if (o.inputOptions !== undefined) {
    if (!isObject(o.inputOptions)) throw invalid('inputOptions', 'an object of demuxer options', o.inputOptions);
    for (const [k, v] of Object.entries(o.inputOptions)) {
      if (!['string', 'number', 'boolean'].includes(typeof v)) throw invalid(`inputOptions.${k}`, 'a string, number or boolean', v);
      if (k.includes('\0') || (typeof v === 'string' && v.includes('\0')))
        throw invalid(`inputOptions.${k}`, 'a value without NUL characters', v);
      inputOptions[k] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    }
  }
  return { source, format, inputOptions };
}

export function normalizeRecorderOptions(o: unknown): NormalizedOptions {
  if (!isObject(o)) throw invalid('options', 'an object with at least { source }', o);
  checkKeys(o, RECORDER_KEYS, 'Recorder options');
  const { source, format: given, inputOptions } = sourceFields(o);
  // A camera by its shape (/dev/video0, video=…, a device index on macOS): its device format.
  const format = given ?? defaultDeviceFormat(source);
  if (o.fallback !== undefined && typeof o.fallback !== 'boolean') throw invalid('fallback', 'a boolean', o.fallback);
  let readRate = 0;
  if (o.readRate === 'native') readRate = 1;
  else if (o.readRate !== undefined) {
    if (typeof o.readRate !== 'number' || !Number.isFinite(o.readRate) || o.readRate <= 0)
      throw invalid('readRate', "'native' or a positive speed factor", o.readRate);
    readRate = inRange('readRate', o.readRate);
  }

  // A regular file read at full speed has no meaningful wall-clock time: its instants get none. (A named
  // pipe or /dev/stdin is a live feed, and keeps its wall clock.)
  const ytdlp = normalizeYtdlp(o.ytdlp);
  if (ytdlp && !/^https?:\/\//i.test(source)) throw invalid('source', 'an http(s) page URL (with ytdlp)', source);
  const local = !ytdlp && isLocalFile(source, format);
  const native: Record<string, unknown> = {
    resolveOnReconnect: ytdlp !== null,
    url: local ? fileUrl(source) : source,
    wallClock: !(local && readRate === 0 && isRegularFile(source)),
    format,
    inputOptions,
    readRate,
    bufferSeconds: o.bufferSeconds === undefined ? 300 : inRange('bufferSeconds', positiveSeconds('bufferSeconds', o.bufferSeconds)),
    maxBufferBytes: o.maxBufferBytes === undefined ? 512 * 1024 * 1024 : inRange('maxBufferBytes', positiveInteger('maxBufferBytes', o.maxBufferBytes)),
    openTimeout: o.openTimeout === undefined ? 15 : inRange('openTimeout', positiveSeconds('openTimeout', o.openTimeout)),
    stallTimeout: o.stallTimeout === undefined ? 10 : inRange('stallTimeout', positiveSeconds('stallTimeout', o.stallTimeout)),
  };

  const r = o.reconnect === undefined ? !local : o.reconnect;
  if (typeof r === 'boolean') {
    native.reconnect = r;
  } else if (isObject(r)) {
    checkKeys(r, RECONNECT_KEYS, 'reconnect options');
    native.reconnect = true;
    if (r.delay !== undefined) native.reconnectDelay = inRange('reconnect.delay', positiveSeconds('reconnect.delay', r.delay));
    if (r.maxDelay !== undefined) native.reconnectMaxDelay = inRange('reconnect.maxDelay', positiveSeconds('reconnect.maxDelay', r.maxDelay));
    if (r.maxAttempts !== undefined) {
      const n = positiveInteger('reconnect.maxAttempts', r.maxAttempts, true);
      if (n !== Infinity) native.reconnectMaxAttempts = inRange('reconnect.maxAttempts', n);
    }
  } else {
    throw invalid('reconnect', 'a boolean or { delay, maxDelay, maxAttempts }', r);
  }

  if (o.encoder !== undefined) {
    const e = o.encoder;
    if (!isObject(e)) throw invalid('encoder', 'an object', e);
    checkKeys(e, ENCODER_KEYS, 'encoder options');
    const enc: Record<string, unknown> = {};
    if (e.videoCodec !== undefined) {
      if (e.videoCodec !== 'libx264' && e.videoCodec !== 'mjpeg') throw invalid('encoder.videoCodec', "'libx264' or 'mjpeg'", e.videoCodec);
      enc.videoCodec = e.videoCodec;
    }
    if (e.preset !== undefined) enc.preset = nonEmptyString('encoder.preset', e.preset);
    if (e.gopSeconds !== undefined) enc.gopSeconds = inRange('encoder.gopSeconds', positiveSeconds('encoder.gopSeconds', e.gopSeconds));
    if (e.videoBitrate !== undefined) enc.videoBitrate = inRange('encoder.videoBitrate', positiveInteger('encoder.videoBitrate', e.videoBitrate));
    if (e.audioBitrate !== undefined) enc.audioBitrate = inRange('encoder.audioBitrate', positiveInteger('encoder.audioBitrate', e.audioBitrate));
    if (e.threads !== undefined) {
      if (typeof e.threads !== 'number' || !Number.isInteger(e.threads) || e.threads < 1 || e.threads > 64) throw invalid('encoder.threads', 'a whole number of threads from 1 to 64', e.threads);
      enc.threads = e.threads;
    }
    native.encoder = enc;
  }
  let statsInterval = o.statsInterval === undefined ? 1 : nonNegativeSeconds('statsInterval', o.statsInterval);
  if (statsInterval !== 0) statsInterval = inRange('statsInterval', statsInterval);
  const meter = { windowSeconds: 0.05, levelInterval: 0.1, always: false };
  if (o.meter !== undefined) {
    if (typeof o.meter === 'boolean') meter.always = o.meter;
    else if (isObject(o.meter)) {
      checkKeys(o.meter, METER_KEYS, 'meter options');
      meter.always = true;
      if (o.meter.windowSeconds !== undefined)
        meter.windowSeconds = inRange('meter.windowSeconds', positiveSeconds('meter.windowSeconds', o.meter.windowSeconds));
      if (o.meter.levelInterval !== undefined)
        meter.levelInterval = inRange('meter.levelInterval', positiveSeconds('meter.levelInterval', o.meter.levelInterval));
    } else throw invalid('meter', 'a boolean or { windowSeconds, levelInterval }', o.meter);
  }
  const record = normalizeRecord(o.record);
  if (record) native.record = { dir: record.dir, segmentSeconds: record.segmentSeconds, format: record.format };
  return { native, statsInterval, meter, ytdlp, readRateSet: o.readRate !== undefined, reconnectSet: o.reconnect !== undefined };
}

/** Container by format name or file extension. */
const MUXERS: Record<string, string> = {
  mp4: 'mp4', m4v: 'mp4', mov: 'mov', mkv: 'matroska', matroska: 'matroska', ts: 'mpegts', mpegts: 'mpegts', flv: 'flv',
};

export interface NormalizedSave {
  path: string;
  format: string;
  faststart: boolean;
  partial: boolean;
  signal?: AbortSignal;
  /** The MP3 beside the clip: its path, or { path, ...Mp3Options } (checked by the caller). */
  mp3?: unknown;
}

export function normalizeSaveOptions(path: unknown, o: unknown): NormalizedSave {
  const p = nonEmptyString('path', path);
  if (o === undefined) o = {};
  if (!isObject(o)) throw invalid('options', 'an object of save options', o);
  checkKeys(o, ['format', 'faststart', 'signal', 'partial', 'mp3'], 'save options');
  let format: string | undefined;
  if (o.format !== undefined) {
    format = MUXERS[nonEmptyString('format', o.format)];
    if (!format) throw invalid('format', `one of ${Object.keys(MUXERS).join(', ')}`, o.format);
  } else {
    const ext = /\.([^./\\]+)$/.exec(p)?.[1]?.toLowerCase();
    format = ext ? MUXERS[ext] : undefined;
    if (!format)
      throw new RecorderError(
        'ERR_INVALID_ARG',
        `Cannot tell the container from '${p}': use a .mp4, .mov, .mkv, .ts or .flv path, or pass { format }`,
      );
  }
  if (o.faststart !== undefined && typeof o.faststart !== 'boolean') throw invalid('faststart', 'a boolean', o.faststart);
  if (o.faststart && format !== 'mp4' && format !== 'mov') throw invalid('faststart', 'true only for mp4/mov output', o.faststart);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', o.signal);
  if (o.partial !== undefined && typeof o.partial !== 'boolean') throw invalid('partial', 'a boolean', o.partial);
  return { path: p, format, faststart: o.faststart === true, partial: o.partial === true, signal: o.signal as AbortSignal | undefined, mp3: o.mp3 };
}

/** The output's directory must exist and be writable, and the path must not be a directory. */
export function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new RecorderError('ERR_INVALID_ARG', `Cannot write '${file}': the directory '${dir}' is not writable (${(err as NodeJS.ErrnoException).code})`);
  }
  let st: Stats | null = null;
  try {
    st = statSync(file);
  } catch {}
  if (st?.isDirectory()) throw new RecorderError('ERR_INVALID_ARG', `Cannot write '${file}': it is a directory`);
}

/** A range bound as µs: epoch µs (wall clock) or timeline µs. */
export function rangeBound(name: string, v: unknown, clock: 'wall' | 'timeline'): number {
  if (clock === 'wall') {
    if (v instanceof Date && !isNaN(v.getTime())) return v.getTime() * 1000;
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
    throw invalid(name, 'a Date or epoch milliseconds', v);
  }
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1e6;
  throw invalid(name, "a number of timeline seconds (clock: 'timeline')", v);
}
