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
  bytes: number;
  packets: number;
  /** Whole GOPs in the buffer (keyframes of the video track, or audio packets for audio-only sources). */
  gops: number;
  /** Oldest/newest buffered instant on the recorder timeline (seconds since the first packet). */
  oldest: number;
  newest: number;
  /** The same instants as wall-clock times (null while the buffer is empty). */
  oldestTime: Date | null;
  newestTime: Date | null;
  /** Average bitrate of the buffered media, bits per second. */
  bitrate: number;
  reconnects: number;
  /** Holes in the buffered timeline left by reconnects and discontinuities. */
  gaps: Gap[];
  /** Native memory held by the buffer, as reported to V8. */
  memory: number;
  totalPackets: number;
  evictedPackets: number;
}

export interface SaveResult {
  path: string;
  /** Muxer that wrote it: 'mp4', 'matroska', 'mpegts', 'flv', 'mov'. */
  format: string;
  /** Wall-clock time of the first frame in the file (a video keyframe at or before the requested start). */
  start: Date;
  end: Date;
  /** Actual length of the file, seconds. */
  duration: number;
  /** Length that was asked for, seconds. */
  requested: number;
  /** The same span on the recorder timeline, seconds. */
  timeline: { start: number; end: number };
  bytes: number;
  packets: number;
  /** Gaps (reconnects) inside the saved span. */
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
  oldestTime: number;
  newestTime: number;
  totalPackets: number;
  totalBytes: number;
  evictedPackets: number;
  memory: number;
  reconnects: number;
  bytesRead: number;
  gaps: Gap[];
}
export interface RawSaveResult {
  path: string;
  format: string;
  start: number;
  end: number;
  startTime: number;
  endTime: number;
  duration: number;
  requestedFrom: number;
  requestedTo: number;
  bytes: number;
  packets: number;
  gaps: number;
  streams: { type: 'video' | 'audio'; codec: string }[];
}
