// snapshot(url): one frame from a source without staying connected. Connects, reads only until the first
// decodable video frame, renders it and disconnects, all on a libuv worker (native/snapshot.cc).
import { callSite, RecorderError, withCallSite } from './errors.js';
import { FORMATS, imageOptions, toFrame, type Frame, type FrameFormat } from './frames.js';
import { native } from './native.js';
import { checkKeys, fileUrl, invalid, isLocalFile, isObject, nonEmptyString, positiveSeconds, sourceFields } from './options.js';
import { normalizeYtdlp, resolveWithYtdlp, type YtdlpOptions } from './ytdlp.js';

export interface SnapshotOptions {
  /**
   * The picture: 'jpeg' (default), 'png', 'rgb24', 'rgba' or 'gray'. Any other name is taken as the input
   * format or device, as a Recorder's `format` (or give that as `inputFormat`).
   */
  format?: FrameFormat | string;
  /** The input format or device ('hls', 'mpegts', 'v4l2'…). Default: probed. */
  inputFormat?: string;
  /** Demuxer and protocol options, as a Recorder's. */
  inputOptions?: Record<string, string | number | boolean>;
  /** Resolve a page with yt-dlp first, as a Recorder's `ytdlp`. */
  ytdlp?: boolean | YtdlpOptions;
  /** Seconds for the whole job: resolve, connect, read, decode. Default 10. */
  timeout?: number;
  quality?: number;
  width?: number;
  height?: number;
  /** Also write the image here (a temporary file renamed into place). */
  path?: string;
  signal?: AbortSignal;
}

export interface Snapshot extends Frame {
  /** Bytes read from the source (playlists and segments included) before it was closed. */
  bytesRead: number;
}

const KEYS = ['format', 'inputFormat', 'inputOptions', 'ytdlp', 'timeout', 'quality', 'width', 'height', 'path', 'signal'];

/**
 * Connects to `source`, reads until the first decodable video frame, disconnects, and returns the frame
 * (`time`: when it arrived; `timeline`: its presentation time in the source). Rejects with
 * ERR_OPEN_INPUT, ERR_TIMEOUT, ERR_NO_VIDEO, ERR_ABORTED or ERR_INVALID_ARG.
 */
export async function snapshot(source: string, options: SnapshotOptions = {}): Promise<Snapshot> {
  const site = callSite(snapshot);
  try {
    return await take(source, options);
  } catch (err) {
    throw withCallSite(err, site);
  }
}

async function take(source: string, options: SnapshotOptions): Promise<Snapshot> {
  if (!isObject(options)) throw invalid('options', 'an object of snapshot options', options);
  checkKeys(options, KEYS, 'snapshot options');
  const o = options as Record<string, unknown>;
  const picture = o.format === undefined || FORMATS.includes(o.format as FrameFormat);
  if (!picture && o.inputFormat !== undefined) throw invalid('format', `one of ${FORMATS.join(', ')} (the input format is given as inputFormat)`, o.format);
  const inputFormat = picture ? o.inputFormat : o.format;
  const src = sourceFields({ source, format: inputFormat, inputOptions: o.inputOptions });
  const image = imageOptions({ format: picture ? o.format : undefined, quality: o.quality, width: o.width, height: o.height });
  const timeout = o.timeout === undefined ? 10 : positiveSeconds('timeout', o.timeout);
  if (timeout > 86400) throw invalid('timeout', 'at most 86400 seconds', timeout);
  const file = o.path === undefined ? undefined : nonEmptyString('path', o.path);
  const signal = o.signal as AbortSignal | undefined;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalid('signal', 'an AbortSignal', signal);
  const ytdlp = normalizeYtdlp(o.ytdlp);
  if (ytdlp && !/^https?:\/\//i.test(src.source)) throw invalid('source', 'an http(s) page URL (with ytdlp)', src.source);
  const aborted = () => new RecorderError('ERR_ABORTED', 'The snapshot was aborted');
  if (signal?.aborted) throw aborted();

  const deadline = Date.now() + timeout * 1000;
  let url = !ytdlp && isLocalFile(src.source, src.format) ? fileUrl(src.source) : src.source;
  let inputOptions = src.inputOptions;
  if (ytdlp) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeout * 1000);
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const r = await resolveWithYtdlp(src.source, ytdlp, ac.signal);
      url = r.url;
      inputOptions = { ...r.inputOptions, ...src.inputOptions };
    } catch (err) {
      if (signal?.aborted) throw aborted();
      if (ac.signal.aborted) throw new RecorderError('ERR_TIMEOUT', `yt-dlp did not resolve '${src.source}' within the timeout (${timeout} s)`);
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  const job = native().snapshot({
    url,
    inputFormat: src.format,
    inputOptions,
    timeout: Math.max(0.001, (deadline - Date.now()) / 1000),
    ...image,
  });
  const cancel = () => job.cancel();
  signal?.addEventListener('abort', cancel, { once: true });
  let raw;
  try {
    raw = await job.promise;
  } finally {
    signal?.removeEventListener('abort', cancel);
  }
  return (await toFrame(raw, image.format, file, { bytesRead: raw.bytesRead })) as Snapshot;
}
