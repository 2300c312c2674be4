// Audio levels: when the native meter (native/audio_meter.cc) runs, what it reports, and the envelope
// queries. The meter runs only while someone wants levels: a 'level' listener, a spike handler, a
// levels() call, or the `meter` option.
import { RecorderError } from './errors.js';
import type { NativeRecorder, RawLevels } from './native.js';
import { checkKeys, invalid, isObject, positiveSeconds, rangeBound } from './options.js';
import type { SourceInfo } from './types.js';

/** One level window (`windowSeconds` long) as the meter measured it. */
export interface LevelWindow {
  /** Timeline seconds where the window starts. */
  timeline: number;
  /** Wall-clock time where it starts (null for a source without a wall clock). */
  time: Date | null;
  /** Highest absolute sample over the window and the channels, dBFS (−120 for digital silence). */
  peakDb: number;
  /** RMS of the loudest channel over the window, dBFS. */
  rmsDb: number;
}

/** The 'level' event: the loudest window since the previous event. */
export type LevelEvent = LevelWindow;

/** `levels()`: the envelope of a buffered range, one element per window (NaN where nothing was measured). */
export interface Levels {
  /** Window length, seconds. */
  window: number;
  /** Timeline seconds of the first window's start, and just past the last window. */
  start: number;
  end: number;
  /** Wall-clock time of `start` (null without a wall clock or when nothing was measured). */
  startTime: Date | null;
  peakDb: Float32Array;
  rmsDb: Float32Array;
}

export type LevelsQuery = { last: number } | { from: Date | number; to: Date | number; clock?: 'wall' | 'timeline' };

type Consumer = (batch: RawLevels) => void;

export class LevelMeter {
  readonly #native: NativeRecorder;
  readonly #window: number;
  readonly #levelInterval: number;
  readonly #always: boolean;
  readonly #emitLevel: (l: LevelEvent) => void;
  readonly #hasLevelListeners: () => boolean;
  readonly #consumers = new Set<Consumer>();
  #asked = false; // levels() was called during this run: keep measuring
  #run = 0; // counts runs (start() after stop()): per-run state of consumers starts afresh
  #track: number | null = null; // the audio track of the current run (null: none / not started)
  #running = false;
  #pending: LevelWindow | null = null; // loudest window since the last 'level' event
  #lastLevelAt = 0;

  constructor(
    native: NativeRecorder,
    o: { windowSeconds: number; levelInterval: number; always: boolean },
    emitLevel: (l: LevelEvent) => void,
    hasLevelListeners: () => boolean,
  ) {
    this.#native = native;
    // Whole microseconds, as the native meter counts them, so window indices never drift.
    this.#window = Math.max(1, Math.round(o.windowSeconds * 1e6)) / 1e6;
    this.#levelInterval = o.levelInterval;
    this.#always = o.always;
    this.#emitLevel = emitLevel;
    this.#hasLevelListeners = hasLevelListeners;
  }

  get window(): number {
    return this.#window;
  }

  /** Which run the current windows belong to. */
  get run(): number {
    return this.#run;
  }

  /** A run started (or reconnected with new info): which track is audio. */
  started(info: SourceInfo): void {
    this.#run++;
    const audio = info.streams.find((s) => s.type === 'audio');
    this.#track = audio ? audio.index : null;
    this.update();
  }

  /** Before the native start: a meter wanted already starts with the first packet (and is done before 'end'). */
  beforeStart(): void {
    const wanted = this.#always || this.#consumers.size > 0 || this.#hasLevelListeners();
    this.#native.meter(wanted ? -1 : null, this.#window);
    this.#running = wanted;
  }

  /** The run's buffer is gone (stop). */
  stopped(): void {
    this.#track = null;
    this.#running = false;
    this.#asked = false;
    this.#pending = null;
  }

  hasAudio(): boolean {
    return this.#track !== null;
  }

  /** Something that wants levels while the recorder runs; returns its removal. */
  consume(c: Consumer): () => void {
    this.#consumers.add(c);
    this.update();
    return () => {
      this.#consumers.delete(c);
      this.update();
    };
  }

  /** Starts or stops the native meter to match who is listening. */
  update(): void {
    const wanted = this.#always || this.#asked || this.#consumers.size > 0 || this.#hasLevelListeners();
    if (wanted === this.#running) return;
    if (!wanted) {
      this.#native.meter(null); // also what was armed for the first packet
      this.#running = false;
      return;
    }
    if (this.#track === null) return; // not started (or no audio): started() comes back here
    try {
      this.#native.meter(this.#track, this.#window);
      this.#running = true;
    } catch {
      // no buffer (stopped meanwhile)
    }
  }

  /** A batch of windows from the native meter. */
  onNative(batch: RawLevels): void {
    for (const c of this.#consumers) c(batch);
    if (batch.backfill || !this.#hasLevelListeners()) return; // 'level' is about now
    for (let i = 0; i < batch.starts.length; i++) {
      const w = windowAt(batch, i);
      if (!this.#pending || w.peakDb > this.#pending.peakDb) this.#pending = { ...w, rmsDb: Math.max(w.rmsDb, this.#pending?.rmsDb ?? -Infinity) };
      else this.#pending.rmsDb = Math.max(this.#pending.rmsDb, w.rmsDb);
    }
    const now = Date.now();
    if (this.#pending && now - this.#lastLevelAt >= this.#levelInterval * 1000) {
      const l = this.#pending;
      this.#pending = null;
      this.#lastLevelAt = now;
      this.#emitLevel(l);
    }
  }

  /** The envelope of a buffered range. */
  levels(q: LevelsQuery, buffer: { oldest: number; newest: number }, wallToTimeline: (ms: number) => number): Levels {
    const newest = buffer.newest;
    if (this.#track === null) throw new RecorderError('ERR_NO_AUDIO', 'The source has no audio track: there are no levels to measure');
    if (!isObject(q)) throw invalid('query', 'an object { last } or { from, to, clock }', q);
    let from: number, to: number;
    if ('last' in q) {
      checkKeys(q, ['last'], 'the levels query');
      to = newest;
      from = to - positiveSeconds('last', q.last);
    } else {
      checkKeys(q, ['from', 'to', 'clock'], 'the levels query');
      const clock = q.clock ?? 'wall';
      if (clock !== 'wall' && clock !== 'timeline') throw invalid('clock', "'wall' or 'timeline'", clock);
      from = rangeBound('from', q.from, clock) / 1e6;
      to = rangeBound('to', q.to, clock) / 1e6;
      if (clock === 'wall') {
        from = wallToTimeline(from * 1000);
        to = wallToTimeline(to * 1000);
      }
      if (!(to > from)) throw invalid('to', "a time after 'from'", q.to);
    }
    // What is still buffered of it.
    from = Math.max(from, buffer.oldest);
    to = Math.min(to, newest);
    if (!(to > from)) to = from;
    this.#asked = true;
    this.update();
    const raw = this.#native.levels(from * 1e6, to * 1e6);
    const w = this.#window;
    // Windows are aligned on the timeline: index i is the window starting at start + i × window.
    const first = Math.floor(from / w + 1e-9) * w;
    const n = Math.max(0, Math.ceil((to - first) / w - 1e-9));
    const peakDb = new Float32Array(n).fill(NaN);
    const rmsDb = new Float32Array(n).fill(NaN);
    let startTime: Date | null = null;
    if (raw) {
      for (let i = 0; i < raw.starts.length; i++) {
        const k = Math.round((raw.starts[i] - first) / w);
        if (k < 0 || k >= n) continue;
        peakDb[k] = raw.peakDb[i];
        rmsDb[k] = raw.rmsDb[i];
        if (i === 0 && Number.isFinite(raw.times[0])) startTime = new Date(raw.times[0] - (raw.starts[0] - first) * 1000);
      }
    }
    return { window: w, start: first, end: first + n * w, startTime, peakDb, rmsDb };
  }
}

export function windowAt(batch: RawLevels, i: number): LevelWindow {
  const t = batch.times[i];
  return { timeline: batch.starts[i], time: Number.isFinite(t) ? new Date(t) : null, peakDb: batch.peakDb[i], rmsDb: batch.rmsDb[i] };
}
