/** Stable error codes. Match on `err.code`, never on the message. */
export const ErrorCodes = [
  'ERR_INVALID_ARG', // a bad option or argument; nothing was started or written
  'ERR_NATIVE_LOAD', // the native addon (or FFmpeg's shared libraries) could not be loaded
  'ERR_OPEN_INPUT', // the source could not be opened
  'ERR_NO_STREAMS', // the source has no audio/video stream, or ended before any packet
  'ERR_READ', // reading from the source failed
  'ERR_TIMEOUT', // opening or reading the source took longer than openTimeout / stallTimeout
  'ERR_ENCODE', // encoding raw input (lavfi, cameras) or an export's audio failed
  'ERR_ENCODER_MISSING', // this FFmpeg has no encoder for the output (e.g. libmp3lame for MP3)
  'ERR_DECODE', // decoding buffered media (levels, spikes, frames, exports) failed
  'ERR_NO_AUDIO', // levels or spikes asked of a source without audio
  'ERR_NO_VIDEO', // a frame asked of a source without video
  'ERR_YTDLP_MISSING', // ytdlp: the yt-dlp executable was not found
  'ERR_RESOLVE', // ytdlp: yt-dlp could not resolve the page (its message says why)
  'ERR_NOT_STARTED', // the recorder has no buffer (not started, or stopped)
  'ERR_ALREADY_STARTED', // start() on a running recorder
  'ERR_RANGE_NOT_BUFFERED', // the requested range is not (or no longer) in the buffer
  'ERR_WRITE', // the output file could not be written
  'ERR_ABORTED', // cancelled through an AbortSignal
  'ERR_STOPPED', // the recorder stopped while the operation was waiting
  'ERR_SOURCE_ENDED', // the source ended for good while the operation was waiting
] as const;

export type RecorderErrorCode = (typeof ErrorCodes)[number];

/**
 * The one error class of av-rewind, raised from TypeScript and from the native core alike.
 * `avCode`/`avMessage` carry libav's numeric error (a negative AVERROR) and its text where libav was involved.
 */
export class RecorderError extends Error {
  readonly code: RecorderErrorCode;
  readonly avCode?: number;
  readonly avMessage?: string;

  constructor(code: RecorderErrorCode, message: string, avCode?: number, avMessage?: string) {
    super(message);
    this.name = 'RecorderError';
    this.code = code;
    if (avCode !== undefined) {
      this.avCode = avCode;
      this.avMessage = avMessage;
    }
  }
}

/**
 * Errors from native work finish on another stack. Give them the stack of the user's call instead,
 * captured when the call was made (`site`).
 */
export function withCallSite(err: unknown, site: { stack?: string }): unknown {
  if (err instanceof Error && site.stack) {
    const frames = site.stack.slice(site.stack.indexOf('\n'));
    err.stack = `${err.name}: ${err.message}${frames}`;
  }
  return err;
}

export function callSite(fn: Function): { stack?: string } {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, fn);
  return site;
}
