import type { ExportResult, RawExportResult } from './audio_export.js';
/** One recorded track (the best video and the best audio stream of the source). */
export interface StreamInfo {
  index: number;
  type: 'video' | 'audio';
  /** Codec of the buffered packets, e.g. 'h264', 'aac'. */
  codec: string;
  profile?: string;
  width?: number;
  height?: number;
  fps?: number;
  pixelFormat?: string;
  sampleRate?: number;
  channels?: number;
  channelLayout?: string;
  /** Time base of the source stream as [num, den]. */
  timeBase: [number, number];
  bitRate?: number;
  /** Raw input that was encoded once at ingest (e.g. 'rawvideo', 'pcm_s16le'), else null. */
  encodedFrom: string | null;
}

export interface SourceInfo {
  /** The input format libavformat detected (e.g. 'hls', 'rtsp', 'mpegts', 'lavfi'). */
  format: string;
  streams: StreamInfo[];
}

export interface Gap {
  /** Timeline seconds. */
  from: number;
  to: number;
}

export type RecorderState = 'idle' | 'starting' | 'recording' | 'reconnecting' | 'ended' | 'stopping' | 'stopped';

export interface RecorderStats {
  state: RecorderState;
  /** Seconds of media in the buffer (from its oldest keyframe to the end of its newest packet). */
  bufferedSeconds: number;
  /** Bytes of memory the buffered packets hold (their data buffers; see also `memory`). */
  bytes: number;
  packets: number;
  /** Whole GOPs in the buffer (keyframes of the video track, or audio packets for audio-only sources). */
  gops: number;
  /** Oldest/newest buffered instant on the recorder timeline (seconds since the first packet). */
  oldest: number;
  newest: number;
  /** The same instants as wall-clock times (null while the buffer is empty, and for a file read at full speed). */
  oldestTime: Date | null;
  newestTime: Date | null;
  /** Average bitrate of the buffered media, bits per second. */
  bitrate: number;
  reconnects: number;
  /** Holes in the buffered timeline left by reconnects and discontinuities. */
  gaps: Gap[];
  /** Native memory held by the buffer (packet buffers plus bookkeeping), as reported to V8. */
  memory: number;
  /** Video frames decoded so far by grabFrame, captureFrames and frames() (what frame grabs cost). */
  framesDecoded: number;
  totalPackets: number;
  evictedPackets: number;
}

export interface SaveResult {
  path: string;
  /** With the `mp3` save option: the MP3 of the clip's audio. */
  mp3?: ExportResult;
  /** Muxer that wrote it: 'mp4', 'matroska', 'mpegts', 'flv', 'mov'. */
  format: string;
  /**
   * Wall-clock time of the first frame in the file (the video keyframe at or before the requested start),
   * or null for a source without a wall clock (a file read at full speed).
   */
  start: Date | null;
  /** Wall-clock time just past the last frame in the file (or null, as `start`). */
  end: Date | null;
  /** Length of the file, seconds: from its first frame to the end of its last presented packet. */
  duration: number;
  /** Length that was asked for, seconds. */
  requested: number;
  /** The same span on the recorder timeline, seconds (end − start === duration). */
  timeline: { start: number; end: number };
  bytes: number;
  /** Packets written. */
  packets: number;
  /**
   * Corrupt packets left out because the container's bitstream conversion rejected them (e.g. a
   * damaged ADTS header on its way into mp4/mkv/flv); 0 for a clean stream.
   */
  dropped: number;
  /** The post-roll was cut short by stop() or the source's end (only with `partial: true`). */
  truncated: boolean;
  /** Holes (reconnects, discontinuities) inside the saved span. */
  gaps: number;
  streams: { type: 'video' | 'audio'; codec: string }[];
}

export type RawSourceInfo = SourceInfo;
export interface RawStats {
  packets: number;
  bytes: number;
  gops: number;
  empty: boolean;
  oldest: number;
  newest: number;
  oldestTime: number | null;
  newestTime: number | null;
  payload: number;
  totalPackets: number;
  totalBytes: number;
  evictedPackets: number;
  memory: number;
  reconnects: number;
  bytesRead: number;
  framesDecoded: number;
  gaps: Gap[];
}
export interface RawSaveResult {
  path: string;
  mp3?: RawExportResult;
  format: string;
  start: number;
  end: number;
  startTime: number | null;
  endTime: number | null;
  duration: number;
  requestedFrom: number;
  requestedTo: number;
  bytes: number;
  packets: number;
  dropped: number;
  truncated: boolean;
  gaps: number;
  streams: { type: 'video' | 'audio'; codec: string }[];
}
