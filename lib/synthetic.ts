import type { RecorderOptions } from './options.js';

export interface SyntheticOptions {
  width?: number;
  height?: number;
  fps?: number;
  /** Tone frequency, Hz. The tone beeps once a second, louder, so the audio is not flat. */
  frequency?: number;
  video?: boolean;
  audio?: boolean;
}

/**
 * A live source that needs no camera or network: libavfilter's testsrc2 pattern and a sine tone,
 * generated in real time through libavdevice's lavfi input. Spread it into the Recorder options.
 */
export function syntheticSource(o: SyntheticOptions = {}): Pick<RecorderOptions, 'source' | 'format' | 'readRate'> {
  const { width = 1280, height = 720, fps = 30, frequency = 440, video = true, audio = true } = o;
  const parts: string[] = [];
  if (video) parts.push(`testsrc2=size=${width}x${height}:rate=${fps}`);
  if (audio) parts.push(`sine=frequency=${frequency}:beep_factor=4:sample_rate=48000`);
  if (!parts.length) throw new TypeError('syntheticSource needs video or audio');
  return { source: parts.map((p, i) => `${p}[out${i}]`).join(';'), format: 'lavfi', readRate: 'native' };
}
