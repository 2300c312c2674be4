import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecorderError } from './errors.js';
import type { RawSourceInfo, RawStats, RawSaveResult } from './types.js';
import type { RawExportResult } from './audio_export.js';

export interface NativeRecorder {
  start(emit: (event: string, payload?: unknown) => void): void;
  stop(): Promise<void>;
  save(req: Record<string, unknown>): Promise<RawSaveResult>;
  cancel(id: number): void;
  /** Disk segments joined with the buffer, on a worker. */
  footage(o: Record<string, unknown>): Promise<unknown>;
  /** Progress of a running export (save with `audio` or `mp3`), or null when it is not running. */
  progress(id: number): { ratio: number | null; time: number; bytes: number } | null;
  stats(): RawStats;
  /**
   * Starts the audio meter on `track` with windows of `windowSeconds`, or stops it (null); track −1
   * before start(): start it on the audio track with the first packet.
   */
  meter(track: number | null, windowSeconds?: number): void;
  /** A frame at 'latest', 'keyframe' or a timeline instant (seconds). */
  grab(o: { at: string | number; keyframeOnly?: boolean; format: string; quality: number; width?: number; height?: number }): Promise<{
    data: Buffer;
    width: number;
    height: number;
    stride?: number;
    timeline: number;
    time: number | null;
    keyframe: boolean;
  }>;
  /** Timeline seconds of a wall-clock instant (epoch ms), by the map saves use. */
  toTimeline(epochMs: number): number;
  /** Level windows starting in [fromUs, toUs), or null when no meter has run. */
  levels(fromUs: number, toUs: number): (RawLevels & { window: number }) | null;
  /** The source a resolver found (before start), or its answer to a 'resolve' event. */
  setSource(o: {
    url?: string;
    inputOptions?: Record<string, string>;
    readRate?: number;
    reconnect?: boolean;
    error?: { code: string; message: string };
  }): void;
}

export interface RawLevels {
  /** Read from what was buffered before the meter started (not measured as it arrived). */
  backfill?: boolean;
  starts: Float64Array;
  times: Float64Array;
  peakDb: Float32Array;
  rmsDb: Float32Array;
}

interface Binding {
  NativeRecorder: new (options: Record<string, unknown>) => NativeRecorder;
  setErrorClass(cls: typeof RecorderError): void;
  /** Connect, first decodable video frame, disconnect: on a libuv worker; cancel() aborts it. */
  snapshot(o: Record<string, unknown>): {
    promise: Promise<{ data: Buffer; width: number; height: number; stride?: number; timeline: number; time: number; keyframe: boolean; bytesRead: number }>;
    cancel(): void;
  };
  /** The cameras this machine has. */
  listDevices(): Promise<unknown[]>;
  /** Disk segments alone (the standalone footage(dir, …)). */
  footage(o: Record<string, unknown>): Promise<unknown>;
  /** Reads every packet of a file: its real duration (a segment a crash left without a trailer). */
  probeMedia(url: string): Promise<{ start: number; duration: number; packets: number; keyframes: number }>;
  /** The audio of a file or URL, exported on a libuv worker. */
  exportFile(o: Record<string, unknown>): {
    promise: Promise<RawExportResult>;
    cancel(): void;
    progress(): { ratio: number | null; time: number; bytes: number };
  };
  versions(): { libavformat: string; libavcodec: string; libavutil: string; ffmpeg: string; libx264: boolean };
  /** Tests only: the wall-clock estimator run over (timeline µs, arrival µs) samples. */
  simulateWallClock(t: Float64Array, arrival: Float64Array): Float64Array;
}

export type { RawSourceInfo };

// lib/native.ts and dist/index.* both sit one level below the package root (tsup shims import.meta.url in CJS).
const require_ = createRequire(import.meta.url);
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

function explain(err: Error): string {
  const msg = err.message;
  const deb =
    'apt-get install -y build-essential python3 pkg-config libavformat-dev libavcodec-dev libavutil-dev ' +
    'libavdevice-dev libswresample-dev libswscale-dev';
  if (/lib(av|sw)\w*\.so/.test(msg)) {
    return `FFmpeg's shared libraries could not be loaded (${msg}).\nInstall them (Debian/Ubuntu: ${deb}) and run 'npm rebuild av-rewind'.`;
  }
  if (/undefined symbol/.test(msg)) {
    return `The native addon does not match the installed FFmpeg (${msg}).\nRebuild it against this FFmpeg: 'npm rebuild av-rewind --build-from-source'.`;
  }
  return (
    `The av-rewind native addon could not be loaded: ${msg}\n` +
    `No prebuilt binary matched this platform, so it must be built from source. Install a C++ toolchain and ` +
    `FFmpeg's development files (Debian/Ubuntu: ${deb}), then run 'npm rebuild av-rewind'.`
  );
}

function load(): Binding {
  try {
    // AV_REWIND_BINDING points at another build of the addon, e.g. the ASan build from CMake.
    const override = process.env.AV_REWIND_BINDING;
    const binding: Binding = override ? require_(path.resolve(override)) : require_('node-gyp-build')(root);
    binding.setErrorClass(RecorderError);
    return binding;
  } catch (err) {
    throw new RecorderError('ERR_NATIVE_LOAD', explain(err as Error));
  }
}

let binding: Binding | undefined;
export function native(): Binding {
  return (binding ??= load());
}

/** Versions of the FFmpeg libraries the addon runs on, and whether libx264 is available for raw input. */
export function versions() {
  return native().versions();
}
