// Spikes: impulsive loud events in the audio (a clap, a bang, a shout over speech or music), found on the
// meter's windows whatever the stream's overall loudness, and the clips saved around them.
//
// The rule (measured on synthesized speech and music, see the README): a window is loud when its peak
// is `riseDb` above the baseline, the 95th percentile of the window peaks of the last
// `baselineSeconds` (peak against peaks: speech and music rise at most ~3.5 and ~5.4 dB above it, a burst
// far more), or at or above `thresholdDb` when given, and at least `minDb`. The first loud window after
// a quiet one starts an event: a spike, unless one was reported less than `minGapSeconds` before. The
// event lasts until the peaks fall `hysteresisDb` below the level that started it for 0.25 s; its
// windows stay out of the baseline (a spike does not raise its own bar) unless it lasts over a second,
// which makes it the new normal (a loud section after a quiet one) rather than an event.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RecorderError } from './errors.js';
import { windowAt, type LevelMeter } from './levels.js';
import type { RawLevels } from './native.js';
import { checkKeys, inRange, invalid, isObject, nonEmptyString, nonNegativeSeconds, positiveSeconds } from './options.js';
import type { SaveRange, SaveOptions } from './options.js';
import type { SaveResult } from './types.js';

export interface Spike {
  /** Wall-clock time where the loud event starts (null for a source without a wall clock). */
  time: Date | null;
  /** Timeline seconds where the loud event starts (the start of its first loud window). */
  timeline: number;
  /** Peak and RMS of that window, dBFS. */
  peakDb: number;
  rmsDb: number;
  /** The baseline it rose above, dBFS. */
  baselineDb: number;
}

export interface SpikeOptions {
  /** How far above the baseline a window's peak must rise, dB. Default 10. */
  riseDb?: number;
  /** A peak at or above this absolute level (dBFS) is a spike too. Default: none. */
  thresholdDb?: number;
  /** No spike from peaks below this level, dBFS (near-silence). Default −50. */
  minDb?: number;
  /** The baseline's span, seconds. Default 10. */
  baselineSeconds?: number;
  /** No spike within this many seconds of the previous one. Default 20. */
  minGapSeconds?: number;
  /** How far the peaks must fall below the starting level before the event is over, dB. Default 6. */
  hysteresisDb?: number;
  /** Seconds saved before and after each spike (with `clipDir`). Defaults 5 and 15. */
  preRoll?: number;
  postRoll?: number;
  /** Save `[time − preRoll, time + postRoll]` of each spike into this directory (created if missing). */
  clipDir?: string;
  /** The clip's file name (within clipDir). Default `spike-<ISO time>.<format>` with ':' as '-'. */
  clipName?: (spike: Spike) => string;
  /** Clip container. Default 'mp4'. */
  format?: 'mp4' | 'mov' | 'mkv' | 'ts' | 'flv';
}

export interface NormalizedSpikeOptions {
  riseDb: number;
  thresholdDb: number | undefined;
  minDb: number;
  baselineSeconds: number;
  minGapSeconds: number;
  hysteresisDb: number;
  preRoll: number;
  postRoll: number;
  clipDir: string | undefined;
  clipName: ((spike: Spike) => string) | undefined;
  format: string;
}

const db = (name: string, v: unknown, min: number, max: number): number => {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(name, 'a number of dB', v);
  if (v < min || v > max) throw invalid(name, `a number of dB from ${min} to ${max}`, v);
  return v;
};

export function normalizeSpikeOptions(o: unknown): NormalizedSpikeOptions {
  if (o === undefined) o = {};
  if (!isObject(o)) throw invalid('options', 'an object of spike options', o);
  checkKeys(o, ['riseDb', 'thresholdDb', 'minDb', 'baselineSeconds', 'minGapSeconds', 'hysteresisDb', 'preRoll', 'postRoll', 'clipDir', 'clipName', 'format'], 'spike options');
  const formats = ['mp4', 'mov', 'mkv', 'ts', 'flv'];
  if (o.format !== undefined && !formats.includes(o.format as string)) throw invalid('format', `one of ${formats.join(', ')}`, o.format);
  if (o.clipName !== undefined && typeof o.clipName !== 'function') throw invalid('clipName', 'a function (spike) => file name', o.clipName);
  return {
    riseDb: o.riseDb === undefined ? 10 : db('riseDb', o.riseDb, 1, 60),
    thresholdDb: o.thresholdDb === undefined ? undefined : db('thresholdDb', o.thresholdDb, -120, 0),
    minDb: o.minDb === undefined ? -50 : db('minDb', o.minDb, -120, 0),
    baselineSeconds: o.baselineSeconds === undefined ? 10 : inRange('spike.baselineSeconds', positiveSeconds('baselineSeconds', o.baselineSeconds)),
    minGapSeconds: o.minGapSeconds === undefined ? 20 : inRange('spike.minGapSeconds', nonNegativeSeconds('minGapSeconds', o.minGapSeconds)),
    hysteresisDb: o.hysteresisDb === undefined ? 6 : db('hysteresisDb', o.hysteresisDb, 0, 60),
    preRoll: o.preRoll === undefined ? 5 : inRange('spike.preRoll', nonNegativeSeconds('preRoll', o.preRoll)),
    postRoll: o.postRoll === undefined ? 15 : inRange('spike.postRoll', positiveSeconds('postRoll', o.postRoll)),
    clipDir: o.clipDir === undefined ? undefined : nonEmptyString('clipDir', o.clipDir),
    clipName: o.clipName as NormalizedSpikeOptions['clipName'],
    format: (o.format as string | undefined) ?? 'mp4',
  };
}

/** The rule above, one window at a time. */
export class SpikeDetector {
  readonly #o: NormalizedSpikeOptions;
  readonly #window: number;
  readonly #history: Float32Array; // window peaks of the baseline span, a circular buffer
  #filled = 0;
  #next = 0;
  #inEvent = false;
  #eventLevel = 0; // the level that started the event
  #eventWindows = 0;
  #quietWindows = 0;
  #lastSpike = -Infinity;

  constructor(o: NormalizedSpikeOptions, windowSeconds: number) {
    this.#o = o;
    this.#window = windowSeconds;
    this.#history = new Float32Array(Math.max(1, Math.round(o.baselineSeconds / windowSeconds)));
  }

  /** The 95th percentile of the baseline span's peaks; −Infinity until a second of it is known. */
  baseline(): number {
    if (this.#filled * this.#window < Math.min(1, this.#o.baselineSeconds)) return -Infinity;
    const sorted = this.#history.slice(0, this.#filled).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(0.95 * (sorted.length - 1) + 0.5))];
  }

  #remember(peak: number): void {
    this.#history[this.#next] = peak;
    this.#next = (this.#next + 1) % this.#history.length;
    this.#filled = Math.min(this.#filled + 1, this.#history.length);
  }

  /**
   * One window, in timeline order. `live`: measured as it arrived (a window from the buffer's past only
   * teaches the baseline). Returns the spike it starts, if any.
   */
  push(timeline: number, time: Date | null, peakDb: number, rmsDb: number, live: boolean): Spike | null {
    const o = this.#o;
    if (this.#inEvent) {
      this.#eventWindows++;
      if (peakDb < this.#eventLevel - o.hysteresisDb) this.#quietWindows++;
      else this.#quietWindows = 0;
      if (this.#quietWindows * this.#window >= 0.25) this.#inEvent = false;
      // Over a second long, it is the new normal (a louder section), not an event: the baseline learns it.
      if (this.#eventWindows * this.#window > 1) this.#remember(peakDb);
      return null;
    }
    const base = this.baseline();
    // Until a second of baseline is known, only thresholdDb can tell loud from normal.
    const byRise = base > -Infinity && peakDb >= base + o.riseDb;
    const byThreshold = o.thresholdDb !== undefined && peakDb >= o.thresholdDb;
    if (peakDb < o.minDb || !(byRise || byThreshold)) {
      this.#remember(peakDb);
      return null;
    }
    this.#inEvent = true;
    this.#eventLevel = Math.min(byRise ? base + o.riseDb : Infinity, byThreshold ? o.thresholdDb! : Infinity);
    this.#eventWindows = 1;
    this.#quietWindows = 0;
    if (!live || timeline - this.#lastSpike < o.minGapSeconds) return null;
    this.#lastSpike = timeline;
    return { time, timeline, peakDb, rmsDb, baselineDb: base };
  }
}

/**
 * Feeds a detector from level batches; calls back with each spike. Windows before `since` (timeline s:
 * what was buffered when the handler was attached) only teach the baseline: old events are not news.
 */
export function detectSpikes(detector: SpikeDetector, since: number, onSpike: (s: Spike) => void) {
  return (batch: RawLevels): void => {
    for (let i = 0; i < batch.starts.length; i++) {
      const w = windowAt(batch, i);
      const s = detector.push(w.timeline, w.time, w.peakDb, w.rmsDb, w.timeline >= since);
      if (s) onSpike(s);
    }
  };
}

/** Windows, macOS and Linux accept it: no ':' (ISO times have them), no other reserved characters. */
export function clipFileName(spike: Spike, format: string): string {
  const ext = format === 'matroska' ? 'mkv' : format;
  const stamp = spike.time ? spike.time.toISOString().replace(/:/g, '-') : `t${spike.timeline.toFixed(3)}s`;
  return `spike-${stamp}.${ext}`;
}

export function clipPath(o: NormalizedSpikeOptions, spike: Spike): string {
  const name = o.clipName ? o.clipName(spike) : clipFileName(spike, o.format);
  if (typeof name !== 'string' || !name) throw new RecorderError('ERR_INVALID_ARG', `clipName returned ${String(name)}, not a file name`);
  return path.join(o.clipDir!, name);
}

export type SpikeClipEvent = { spike: Spike; clip: SaveResult };

/** What a spike handler needs of its recorder. */
export interface SpikeHost {
  meter: LevelMeter;
  /** Timeline seconds of the newest buffered instant, or null before the first run started. */
  newest(): number | null;
  saveRange(range: SaveRange, path: string, options: SaveOptions): Promise<SaveResult>;
  clip(event: SpikeClipEvent): void;
  fail(err: RecorderError): void;
}

/**
 * Attaches `handler` (options already checked): a detector per run fed by the meter, and with clipDir
 * a clip saved around each spike. Returns the detach function.
 */
export function attachSpikeHandler(host: SpikeHost, handler: (spike: Spike) => void, o: NormalizedSpikeOptions): () => void {
  if (o.clipDir) mkdirSync(o.clipDir, { recursive: true });
  const meter = host.meter;
  const onSpike = (spike: Spike) => {
    handler(spike);
    if (o.clipDir) saveClip(host, spike, o);
  };
  // Attached before start(): every window is news. Later: what arrives from now on. A new run (start()
  // after stop()) has a new timeline: the detector starts afresh, and sees all of it.
  let run = meter.run;
  const newest = host.newest();
  let feed = detectSpikes(new SpikeDetector(o, meter.window), newest === null ? -Infinity : newest - meter.window, onSpike);
  return meter.consume((batch) => {
    if (meter.run !== run) {
      run = meter.run;
      feed = detectSpikes(new SpikeDetector(o, meter.window), -Infinity, onSpike);
    }
    feed(batch);
  });
}

// [t − preRoll, t + postRoll], waiting natively for the post-roll; a stop() cuts it short (truncated).
function saveClip(host: SpikeHost, spike: Spike, o: NormalizedSpikeOptions): void {
  let file: string;
  try {
    file = clipPath(o, spike);
  } catch (err) {
    host.fail(Object.assign(err as RecorderError, { spike }));
    return;
  }
  const range = { from: Math.max(0, spike.timeline - o.preRoll), to: spike.timeline + o.postRoll, clock: 'timeline' as const };
  host.saveRange(range, file, { format: o.format, partial: true }).then(
    (clip) => host.clip({ spike, clip }),
    (err) => host.fail(Object.assign(err, { spike })),
  );
}
