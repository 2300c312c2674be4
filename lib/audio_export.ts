// Audio exports: a range's (or a file's) audio as MP3 through libmp3lame, or its packets copied into an
// audio container. Options are checked here; the work runs natively on a worker (native/audio_export.cc),
// and progress is read from it while it runs.
import path from 'node:path';
import { RecorderError } from './errors.js';
import { native } from './native.js';
import { checkKeys, checkWritable, fileUrl, invalid, isLocalFile, isObject, nonEmptyString, positiveSeconds, rangeBound, sourceFields } from './options.js';

export interface ExportProgress {
  /** 0–1 of the range (of the file's duration for a file; 0 until the end when that is unknown). */
  ratio: number;
  /** Seconds of the range done. */
  time: number;
  /** Bytes written so far. */
  bytes: number;
}

export interface AudioTags {
  title?: string;
  artist?: string;
  album?: string;
  date?: string;
  comment?: string;
}

interface CommonExportOptions {
  /** Tags (ID3v2 in MP3). Default title: the source and the time range. */
  tags?: AudioTags;
  /** Called about 5 times a second while the export runs, and once with ratio 1 at the end. */
  onProgress?: (p: ExportProgress) => void;
  /** Cancels: the promise rejects with ERR_ABORTED and no file is left. */
  signal?: AbortSignal;
  /**
   * Holes in the audio (reconnects): 'silence' (default) inserts silence of each hole's length, so the
   * audio stays aligned with wall-clock time; 'skip' joins the audio on either side.
   */
  gaps?: 'silence' | 'skip';
}

export interface Mp3Options extends CommonExportOptions {
  /** CBR in kb/s: 32–320 at 32/44.1/48 kHz, 8–160 below (the values MP3 allows). */
  bitrate?: number;
  /** VBR quality, 0 (best, ~245 kb/s) – 9 (smallest). Default: 2 (~190 kb/s) when no bitrate is given. */
  quality?: number;
  /** Output rate (Hz): 8000–48000 as MP3 allows. Default: the source's, or the nearest rate MP3 allows. */
  sampleRate?: number;
  /** 1 (mono downmix) or 2. Default: the source's (more than two are downmixed to stereo). */
  channels?: 1 | 2;
}

export interface AudioCopyOptions extends CommonExportOptions {
  /** Container: 'm4a', 'aac' (ADTS), 'mka', 'ogg', 'webm', 'mp3'. Default: from the extension. */
  format?: string;
}

/** File exports only: which stream, and how to open the input. */
export interface FileExportOptions {
  /** The input's stream index (as ffprobe numbers them). Default: the best audio stream. */
  stream?: number;
  inputFormat?: string;
  inputOptions?: Record<string, string | number | boolean>;
}

export interface ExportResult {
  path: string;
  /** Container ('mp3', 'ipod' for .m4a, 'adts', 'matroska', 'ogg'…). */
  format: string;
  /** Wall-clock time of the first and just past the last sample (null without a wall clock, and for files). */
  start: Date | null;
  end: Date | null;
  /** Seconds of audio in the file: exactly the samples written (MP3), or the packets' span (copy). */
  duration: number;
  /** The same span on the recorder's timeline (the file's own time for a file export). */
  timeline: { start: number; end: number };
  bytes: number;
  /** b/s: the CBR setting, or the file's average. */
  bitrate: number;
  sampleRate: number;
  channels: number;
  codec: string;
}

export type AudioRange = { last: number } | { from: Date | number; to: Date | number; clock?: 'wall' | 'timeline' };

export interface RawExportResult {
  path: string;
  format: string;
  codec: string;
  start: number;
  end: number;
  startTime: number | null;
  endTime: number | null;
  duration: number;
  bytes: number;
  bitrate: number;
  sampleRate: number;
  channels: number;
}

const MP3_KBPS = [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 192, 224, 256, 320];
const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
const COPY_EXTENSIONS: Record<string, string> = { '.m4a': 'ipod', '.aac': 'adts', '.mka': 'matroska', '.ogg': 'ogg', '.opus': 'ogg', '.webm': 'webm', '.mp3': 'mp3' };
const COPY_FORMATS: Record<string, string> = { m4a: 'ipod', ipod: 'ipod', aac: 'adts', adts: 'adts', mka: 'matroska', matroska: 'matroska', ogg: 'ogg', webm: 'webm', mp3: 'mp3' };
const TAG_KEYS = ['title', 'artist', 'album', 'date', 'comment'] as const;
const COMMON_KEYS = ['tags', 'onProgress', 'signal', 'gaps'];

export interface NormalizedExport {
  /** What the native side gets as `audio` (or `mp3`). */
  spec: Record<string, unknown>;
  onProgress?: (p: ExportProgress) => void;
  signal?: AbortSignal;
}

function common(o: Record<string, unknown>, defaultTitle: string) {
  let tags: Record<string, string> = { title: defaultTitle };
  if (o.tags !== undefined) {
    if (!isObject(o.tags)) throw invalid('tags', 'an object { title, artist, album, date, comment }', o.tags);
    checkKeys(o.tags, TAG_KEYS, 'tags');
    for (const [k, v] of Object.entries(o.tags)) {
      if (typeof v !== 'string' || v.includes('\0')) throw invalid(`tags.${k}`, 'a string', v);
    }
    tags = { ...tags, ...(o.tags as Record<string, string>) };
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid('onProgress', 'a function ({ ratio, time, bytes }) => void', o.onProgress);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', o.signal);
  if (o.gaps !== undefined && o.gaps !== 'silence' && o.gaps !== 'skip') throw invalid('gaps', "'silence' or 'skip'", o.gaps);
  return { tags, gaps: (o.gaps as string | undefined) ?? 'silence', onProgress: o.onProgress as NormalizedExport['onProgress'], signal: o.signal as AbortSignal | undefined };
}

/** MP3 options, checked; `extraKeys` are allowed beside them (a file export's input options). */
export function normalizeMp3(file: unknown, options: unknown, defaultTitle: string, extraKeys: string[] = []): NormalizedExport {
  const p = nonEmptyString('path', file);
  if (options !== undefined && !isObject(options)) throw invalid('options', 'an object of MP3 options', options);
  const o = (options ?? {}) as Record<string, unknown>;
  checkKeys(o, [...COMMON_KEYS, 'bitrate', 'quality', 'sampleRate', 'channels', ...extraKeys], 'MP3 options');
  if (o.bitrate !== undefined && o.quality !== undefined) throw invalid('quality', "either a bitrate (CBR) or a quality (VBR), not both", o.quality);
  if (o.bitrate !== undefined && (typeof o.bitrate !== 'number' || !MP3_KBPS.includes(o.bitrate)))
    throw invalid('bitrate', `an MP3 bitrate in kb/s (${MP3_KBPS.join(', ')})`, o.bitrate);
  if (o.quality !== undefined && (typeof o.quality !== 'number' || !Number.isInteger(o.quality) || o.quality < 0 || o.quality > 9))
    throw invalid('quality', 'a whole number from 0 (best) to 9', o.quality);
  if (o.sampleRate !== undefined && (typeof o.sampleRate !== 'number' || !MP3_RATES.includes(o.sampleRate)))
    throw invalid('sampleRate', `a rate MP3 allows (${MP3_RATES.join(', ')} Hz)`, o.sampleRate);
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 2) throw invalid('channels', '1 or 2', o.channels);
  const c = common(o, defaultTitle);
  return {
    spec: {
      mp3: true,
      path: p,
      bitrate: o.bitrate === undefined ? 0 : (o.bitrate as number) * 1000,
      quality: (o.quality as number | undefined) ?? 2,
      sampleRate: o.sampleRate ?? 0,
      channels: o.channels ?? 0,
      gaps: c.gaps,
      tags: c.tags,
    },
    onProgress: c.onProgress,
    signal: c.signal,
  };
}

/** Stream-copy options, checked: the container from `format` or the extension. */
export function normalizeCopy(file: unknown, options: unknown, defaultTitle: string, extraKeys: string[] = []): NormalizedExport {
  const p = nonEmptyString('path', file);
  if (options !== undefined && !isObject(options)) throw invalid('options', 'an object of export options', options);
  const o = (options ?? {}) as Record<string, unknown>;
  checkKeys(o, [...COMMON_KEYS, 'format', ...extraKeys], 'exportAudio options');
  let format: string | undefined;
  if (o.format !== undefined) {
    format = COPY_FORMATS[nonEmptyString('format', o.format)];
    if (!format) throw invalid('format', `one of ${Object.keys(COPY_FORMATS).join(', ')}`, o.format);
  } else {
    format = COPY_EXTENSIONS[path.extname(p).toLowerCase()];
    if (!format)
      throw new RecorderError('ERR_INVALID_ARG', `Cannot tell the audio container from '${p}': use .m4a, .aac or .mka (AAC), .ogg, .webm or .mka (Opus), .mp3 (MP3), or pass { format }`);
  }
  const c = common(o, defaultTitle);
  return { spec: { mp3: false, path: p, format, gaps: c.gaps, tags: c.tags }, onProgress: c.onProgress, signal: c.signal };
}

/** A buffered range: { last } or { from, to, clock }, as the native save request takes it. */
export function normalizeAudioRange(range: unknown, wallClock: boolean): { req: Record<string, unknown>; requested: number; title: string } {
  if (!isObject(range)) throw invalid('range', "{ last: seconds } or { from, to, clock }", range);
  if ('last' in range) {
    checkKeys(range, ['last'], 'the range');
    const last = positiveSeconds('last', range.last);
    const now = new Date();
    const title = wallClock ? `${stamp(new Date(now.getTime() - last * 1000))} – ${stamp(now)}` : `the last ${last} s`;
    return { req: { last: last * 1e6 }, requested: last, title };
  }
  checkKeys(range, ['from', 'to', 'clock'], 'the range');
  const clock = range.clock ?? 'wall';
  if (clock !== 'wall' && clock !== 'timeline') throw invalid('clock', "'wall' or 'timeline'", clock);
  const from = rangeBound('from', range.from, clock);
  const to = rangeBound('to', range.to, clock);
  if (!(to > from)) throw invalid('to', "a time after 'from'", range.to);
  if (clock === 'wall' && !wallClock)
    throw new RecorderError('ERR_INVALID_ARG', "This source has no wall clock (a local file read at full speed): give the range in timeline seconds with { clock: 'timeline' }");
  const title = clock === 'wall' ? `${stamp(new Date(from / 1000))} – ${stamp(new Date(to / 1000))}` : `${from / 1e6} s – ${to / 1e6} s`;
  return { req: { from, to, clock }, requested: (to - from) / 1e6, title };
}

const stamp = (d: Date) => d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');

/** Where a written file lies: wall-clock start/end (or null), its duration and its timeline span. */
export function spanOf(raw: { startTime: number | null; endTime: number | null; start: number; end: number; duration: number }) {
  return {
    start: raw.startTime === null ? null : new Date(raw.startTime),
    end: raw.endTime === null ? null : new Date(raw.endTime),
    duration: raw.duration,
    timeline: { start: raw.start, end: raw.end },
  };
}

export function toExportResult(raw: RawExportResult): ExportResult {
  return {
    path: raw.path,
    format: raw.format,
    ...spanOf(raw),
    bytes: raw.bytes,
    bitrate: raw.bitrate,
    sampleRate: raw.sampleRate,
    channels: raw.channels,
    codec: raw.codec,
  };
}

/**
 * Runs `job` while reporting its progress: `read()` is polled ~5 times a second and onProgress gets
 * each change (ratio never going back), then ratio 1 once the job has succeeded.
 */
export async function withProgress<T extends { duration: number; bytes: number }>(
  job: Promise<T>,
  read: () => { ratio: number | null; time: number; bytes: number } | null,
  onProgress: ((p: ExportProgress) => void) | undefined,
): Promise<T> {
  if (!onProgress) return job;
  let last = -1, lastBytes = -1;
  const report = (p: ExportProgress) => {
    try {
      onProgress(p);
    } catch {
      // A throwing progress callback must not break the export.
    }
  };
  report({ ratio: 0, time: 0, bytes: 0 });
  const timer = setInterval(() => {
    const p = read();
    if (!p) return;
    const ratio = Math.max(last, Math.min(0.999, p.ratio ?? 0));
    if (ratio === last && p.bytes === lastBytes) return;
    last = ratio;
    lastBytes = p.bytes;
    report({ ratio, time: p.time, bytes: p.bytes });
  }, 200);
  try {
    const r = await job;
    report({ ratio: 1, time: r.duration, bytes: r.bytes });
    return r;
  } finally {
    clearInterval(timer);
  }
}

/** exportMp3(file) / exportAudio(file): any file or URL libavformat opens. */
export async function exportFile(input: string, output: string, options: unknown, mp3: boolean): Promise<ExportResult> {
  const src = nonEmptyString('input', input);
  const fileKeys = ['stream', 'inputFormat', 'inputOptions'];
  const title = path.basename(src);
  const n = mp3 ? normalizeMp3(output, options, title, fileKeys) : normalizeCopy(output, options, title, fileKeys);
  const o = (options ?? {}) as Record<string, unknown>;
  if (o.stream !== undefined && (typeof o.stream !== 'number' || !Number.isInteger(o.stream) || o.stream < 0))
    throw invalid('stream', 'a stream index (0, 1, …)', o.stream);
  const s = sourceFields({ source: src, format: o.inputFormat, inputOptions: o.inputOptions });
  checkWritable(n.spec.path as string);
  if (path.resolve(n.spec.path as string) === path.resolve(src)) throw invalid('path', 'an output other than the input', output);
  if (n.signal?.aborted) throw new RecorderError('ERR_ABORTED', 'The export was aborted before it started');
  const job = native().exportFile({
    input: isLocalFile(s.source, s.format) ? fileUrl(s.source) : s.source,
    inputFormat: s.format,
    inputOptions: s.inputOptions,
    stream: o.stream ?? -1,
    audio: n.spec,
  });
  const cancel = () => job.cancel();
  n.signal?.addEventListener('abort', cancel, { once: true });
  try {
    return await withProgress(job.promise.then(toExportResult), () => job.progress(), n.onProgress);
  } finally {
    n.signal?.removeEventListener('abort', cancel);
  }
}
