// Cameras: listDevices(), and the device format a source implies. Listing is native (the V4L2
// enumeration ioctls on Linux, libavdevice's device list elsewhere); naming pixel formats is here.
import { existsSync } from 'node:fs';
import { native } from './native.js';

export interface DeviceFormat {
  /** libav's name of the pixel format (raw formats), or the compressed format's ('mjpeg', 'h264'). */
  pixelFormat: string;
  /** 'rawvideo' for raw formats (encoded once at ingest), else the codec the camera sends. */
  codec: string;
  width: number;
  height: number;
  fps: number[];
  /** The driver's four-character code and description. */
  fourcc: string;
  description: string;
}

export interface Device {
  /** What to give as `source` (with `format: 'v4l2'` / 'dshow' / 'avfoundation'). */
  path: string;
  name: string;
  formats: DeviceFormat[];
}

// V4L2 four-character codes → libav names (libavdevice/v4l2-common.c has the full table).
const FOURCC: Record<string, [codec: string, pixelFormat: string]> = {
  MJPG: ['mjpeg', 'mjpeg'],
  JPEG: ['mjpeg', 'mjpeg'],
  H264: ['h264', 'h264'],
  HEVC: ['hevc', 'hevc'],
  YUYV: ['rawvideo', 'yuyv422'],
  UYVY: ['rawvideo', 'uyvy422'],
  YU12: ['rawvideo', 'yuv420p'],
  YV12: ['rawvideo', 'yuv420p'],
  NV12: ['rawvideo', 'nv12'],
  NV21: ['rawvideo', 'nv21'],
  '422P': ['rawvideo', 'yuv422p'],
  RGB3: ['rawvideo', 'rgb24'],
  BGR3: ['rawvideo', 'bgr24'],
  GREY: ['rawvideo', 'gray'],
  Y16: ['rawvideo', 'gray16le'],
};

/** The codec and pixel format a V4L2 four-character code stands for. */
export function fourccFormat(fourcc: string): { codec: string; pixelFormat: string } {
  const m = FOURCC[fourcc];
  return m ? { codec: m[0], pixelFormat: m[1] } : { codec: 'rawvideo', pixelFormat: fourcc.toLowerCase() };
}

interface RawDevice {
  path: string;
  name: string;
  formats: { fourcc: string; description: string; compressed: boolean; sizes: { width: number; height: number; fps: number[] }[] }[];
}

/** The cameras of this machine, each with one entry per format and size it offers. */
export async function listDevices(): Promise<Device[]> {
  const raw = (await native().listDevices()) as RawDevice[];
  return raw.map((d) => ({
    path: d.path,
    name: d.name,
    formats: d.formats.flatMap((f) =>
      f.sizes.map((s) => ({ ...fourccFormat(f.fourcc), width: s.width, height: s.height, fps: s.fps, fourcc: f.fourcc, description: f.description })),
    ),
  }));
}

/**
 * The input format a source names by its shape: a V4L2 device node on Linux, `video=…` on Windows
 * (DirectShow), a device index on macOS (AVFoundation). Undefined for everything else.
 */
export function defaultDeviceFormat(source: string, platform: NodeJS.Platform = process.platform): string | undefined {
  if (platform === 'linux' && /^\/dev\/video\d+$/.test(source)) return 'v4l2';
  if (platform === 'win32' && /^(video|audio)=/.test(source)) return 'dshow';
  if (platform === 'darwin' && /^(\d+|default)(:(\d+|none|default))?$/.test(source)) return 'avfoundation';
  return undefined;
}

/** fallback: the configured device is missing: the first camera there is (null: none). */
export async function fallbackDevice(source: string, format: string | undefined): Promise<Device | null> {
  if (format !== 'v4l2' && format !== 'video4linux2') return null;
  if (existsSync(source)) return null;
  const all = await listDevices();
  return all[0] ?? null;
}
