import { EventEmitter } from 'node:events';
import path from 'node:path';
import { callSite, RecorderError, withCallSite } from './errors.js';
import { native, type NativeRecorder } from './native.js';
import {
  invalid,
  isObject,
  checkKeys,
  checkWritable,
  fileUrl,
  normalizeRecorderOptions,
  normalizeSaveOptions,
  positiveSeconds,
  rangeBound,
  type NormalizedSave,
  type RecorderOptions,
  type SaveOptions,
  type SaveRange,
} from './options.js';
import type { Gap, RawSaveResult, RecorderState, RecorderStats, SaveResult, SourceInfo } from './types.js';
import { LevelMeter, type LevelEvent, type Levels, type LevelsQuery } from './levels.js';
import {
  normalizeAudioRange,
  normalizeCopy,
  normalizeMp3,
  spanOf,
  toExportResult,
  withProgress,
  type AudioCopyOptions,
  type AudioRange,
  type ExportProgress,
  type ExportResult,
  type Mp3Options,
  type NormalizedExport,
  type RawExportResult,
} from './audio_export.js';
import { normalizeFootage, toFootageResult, type FootageRange, type FootageResult, type FootageSegmentIn } from './footage.js';
import { fallbackDevice } from './devices.js';
import { DiskRecorder, normalizeRecord, type DiskRecorderHost, type RawSegment, type Recording } from './recording.js';
import { FrameCapture, grabFrame, type CaptureOptions, type Frame, type GrabFrameOptions } from './frames.js';
import { nativeSource, resolveWithYtdlp, type NormalizedYtdlp, type UserSource } from './ytdlp.js';
import { attachSpikeHandler, normalizeSpikeOptions, type Spike, type SpikeClipEvent, type SpikeHost, type SpikeOptions } from './spikes.js';

export interface RecorderEvents {
  /** The source is open and its first packet is buffered. */
  start: [info: SourceInfo];
  /** The source ended or failed; a new attempt follows after `delay` seconds. */
  reconnecting: [event: { attempt: number; delay: number; error: RecorderError }];
  /** Data flows again; `gap` is the hole it left on the timeline. */
  reconnected: [event: { attempt: number; gap: Gap | null; info: SourceInfo }];
  /**
   * The source ended for good because of this error, or (record option) a disk write failed: recording
   * to memory goes on and the disk recorder retries. Only emitted when someone listens (else a disk
   * failure is a 'warning').
   */
  error: [error: RecorderError];
  /** The source ended for good (error null: a clean end). The buffer stays available to saves until stop(). */
  end: [event: { error: RecorderError | null }];
  /** Every `statsInterval` seconds while recording. */
  stats: [stats: RecorderStats];
  /** stop() has released the source and the buffer. */
  close: [];
  /** Something works, but not as configured: e.g. `WARN_LONG_GOP` when one GOP is longer than the buffer. */
  warning: [warning: { code: string; message: string }];
  /** The loudest level window since the previous event, at most every `meter.levelInterval` seconds. */
  level: [level: LevelEvent];
  /** A spike's clip (onSpike with `clipDir`) is saved. */
  clip: [event: SpikeClipEvent];
  /** A disk segment (record option) is finished. */
  segment: [segment: Recording];
  /** A disk segment was deleted by retention (age, total size, free space). */
  deleted: [segment: Recording & { reason: 'age' | 'size' | 'space' }];
}

/**
 * How long stop() waits for the ingest thread. Every libav call it makes is interruptible except a few
 * that libav itself cannot cut short (DNS lookups, some filters and devices): past this, stop() resolves
 * and the thread finishes, and frees the buffer, on its own as soon as that call returns.
 */
const STOP_GRACE_MS = 900;

type Pending = {
  resolve: (info: SourceInfo) => void;
  reject: (err: unknown) => void;
  site: { stack?: string };
  error?: RecorderError;
};

// The longest footage() waits for the packets of a range's last instants to arrive.
const FOOTAGE_SETTLE_MS = 5000;

/**
 * Records a live source into an in-memory buffer of compressed packets and saves any part of it to a
 * file without re-encoding.
 */
export class Recorder extends EventEmitter<RecorderEvents> {
  readonly #native: NativeRecorder;
  readonly #statsInterval: number;
  readonly #wallClock: boolean;
  #state: RecorderState = 'idle';
  #info: SourceInfo | null = null;
  #pendingStart: Pending | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopping: Promise<void> | null = null;
  #nextId = 1;
  readonly #meter: LevelMeter;
  #spikeHandlers = 0;
  readonly #spikeHost: SpikeHost;
  // yt-dlp sources: the page, how to resolve it, and the user's own input options to keep beside its headers.
  readonly #ytdlp: NormalizedYtdlp | null;
  readonly #page: string;
  readonly #name: string;
  readonly #disk: DiskRecorder | null;
  #preparing = false;
  readonly #fallback: { source: string; format: string | undefined } | null;
  readonly #userSource: UserSource;
  #resolving: AbortController | null = null;
  readonly #emitNative = (event: string, payload?: unknown) => this.#onNative(event, payload);

  constructor(options: RecorderOptions) {
    super();
    try {
      const { native: opts, statsInterval, meter, ytdlp, readRateSet, reconnectSet } = normalizeRecorderOptions(options);
      this.#statsInterval = statsInterval;
      this.#ytdlp = ytdlp;
      this.#page = opts.url as string;
      this.#name = String((options as { source: string }).source);
      this.#fallback = (options as { fallback?: boolean }).fallback ? { source: this.#name, format: opts.format as string | undefined } : null;
      const record = normalizeRecord((options as { record?: unknown }).record);
      this.#disk = record
        ? new DiskRecorder(record, {
            emit: (event: string, payload: unknown) => this.emit(event as 'segment', payload as Recording),
            error: (err) => this.#recordError(err),
          } as DiskRecorderHost)
        : null;
      this.#userSource = { inputOptions: opts.inputOptions as Record<string, string>, readRateSet, reconnectSet };
      this.#wallClock = opts.wallClock as boolean;
      this.#native = new (native().NativeRecorder)(opts);
      this.#meter = new LevelMeter(this.#native, meter, (l) => this.emit('level', l), () => this.listenerCount('level') > 0);
      this.#spikeHost = {
        meter: this.#meter,
        newest: () => (this.#info ? this.#native.stats().newest : null),
        saveRange: (range, path, options) => this.saveRange(range, path, options),
        clip: (event) => this.emit('clip', event),
        fail: (err) => this.#fail(err),
      };
      // A 'level' listener turns the meter on (and its removal off): after the listener list changed.
      const levelListeners = (event: string | symbol) => {
        if (event === 'level') queueMicrotask(() => this.#meter.update());
      };
      (this as EventEmitter).on('newListener', levelListeners);
      (this as EventEmitter).on('removeListener', levelListeners);
    } catch (err) {
      throw withCallSite(err, callSite(Recorder));
    }
  }

  /** What the source delivers (null before start). */
  get info(): SourceInfo | null {
    return this.#info;
  }

  get state(): RecorderState {
    return this.#state;
  }

  get stats(): RecorderStats {
    const s = this.#native.stats();
    const buffered = s.empty ? 0 : s.newest - s.oldest;
    return {
      state: this.#state,
      bufferedSeconds: buffered,
      bytes: s.bytes,
      packets: s.packets,
      gops: s.gops,
      oldest: s.oldest,
      newest: s.newest,
      oldestTime: s.empty || s.oldestTime === null ? null : new Date(s.oldestTime),
      newestTime: s.empty || s.newestTime === null ? null : new Date(s.newestTime),
      bitrate: buffered > 0 ? (s.payload * 8) / buffered : 0,
      reconnects: s.reconnects,
      gaps: s.gaps,
      memory: s.memory,
      framesDecoded: s.framesDecoded,
      totalPackets: s.totalPackets,
      evictedPackets: s.evictedPackets,
    };
  }

  /** Opens the source; resolves once its streams are probed and the first packet is buffered. */
  start(): Promise<SourceInfo> {
    const site = callSite(this.start);
    if (this.#state !== 'idle' && this.#state !== 'stopped') {
      const hint = this.#state === 'ended' ? ' (the source ended; call stop() before starting again)' : '';
      return Promise.reject(withCallSite(new RecorderError('ERR_ALREADY_STARTED', `The recorder is ${this.#state}${hint}`), site));
    }
    this.#state = 'starting';
    this.#info = null;
    return new Promise<SourceInfo>((resolve, reject) => {
      this.#pendingStart = { resolve, reject, site };
      const go = () => {
        this.#preparing = false;
        if (this.#pendingStart?.reject !== reject) return; // stopped meanwhile
        if (this.#ytdlp) void this.#resolveThenStart(this.#ytdlp, reject, site);
        else this.#startNative(reject, site);
      };
      if (!this.#disk && !this.#fallback) return go();
      // The recordings folder first (its index checked, rebuilt after a crash; retention applied), and a
      // camera that is there.
      this.#preparing = true;
      this.#prepare().then(go, (err) => {
        this.#preparing = false;
        if (this.#pendingStart?.reject !== reject) return;
        this.#pendingStart = null;
        this.#state = 'stopped';
        reject(withCallSite(err, site));
      });
    });
  }

  // yt-dlp first (its media URL and headers), then the native start on them. Each start has its own
  // resolution: a stop() aborts it, and a later start() is not touched by an earlier one ending.
  async #resolveThenStart(ytdlp: NormalizedYtdlp, reject: (err: unknown) => void, site: { stack?: string }): Promise<void> {
    const ac = (this.#resolving = new AbortController());
    const stopped = () => new RecorderError('ERR_STOPPED', 'The recorder was stopped before the source started');
    let failure: unknown = null;
    try {
      const r = await resolveWithYtdlp(this.#page, ytdlp, ac.signal);
      if (ac.signal.aborted || this.#resolving !== ac) throw stopped();
      this.#native.setSource(nativeSource(r, this.#userSource, true));
    } catch (err) {
      failure = ac.signal.aborted ? stopped() : err;
    }
    const mine = this.#resolving === ac;
    if (mine) this.#resolving = null;
    if (failure) {
      if (this.#pendingStart?.reject === reject) this.#pendingStart = null;
      if (mine && this.#state === 'starting') this.#state = 'stopped';
      reject(withCallSite(failure, site));
      return;
    }
    this.#startNative(reject, site);
  }

  // Before a reconnect: a fresh media URL (they expire), or why there is none (the attempt then fails).
  async #reresolve(): Promise<void> {
    try {
      const r = await resolveWithYtdlp(this.#page, this.#ytdlp!);
      this.#native.setSource(nativeSource(r, this.#userSource, false));
    } catch (err) {
      const e = err instanceof RecorderError ? err : new RecorderError('ERR_RESOLVE', String(err));
      this.#native.setSource({ error: { code: e.code, message: e.message } });
    }
  }

  #startNative(reject: (err: unknown) => void, site: { stack?: string }): void {
    try {
      this.#meter.beforeStart();
      this.#native.start(this.#emitNative);
    } catch (err) {
      this.#pendingStart = null;
      this.#state = 'stopped';
      if (err instanceof RecorderError && err.code === 'ERR_ALREADY_STARTED')
        err.message = 'The previous run is still shutting down (its source is stuck in a call libav cannot interrupt); try again shortly';
      reject(withCallSite(err, site));
    }
  }

  async #prepare(): Promise<void> {
    if (this.#disk) {
      try {
        await this.#disk.prepare();
      } catch (err) {
        throw new RecorderError('ERR_WRITE', `Cannot record to '${this.#disk.o.dir}': ${(err as Error).message}`);
      }
    }
    if (this.#fallback) {
      const dev = await fallbackDevice(this.#fallback.source, this.#fallback.format);
      if (dev) {
        this.#native.setSource({ url: dev.path, inputOptions: this.#userSource.inputOptions });
        this.emit('warning', { code: 'WARN_DEVICE_FALLBACK', message: `'${this.#fallback.source}' is not there: recording '${dev.path}' (${dev.name}) instead` });
      }
    }
  }

  /** Stops ingest (within a second, even if the source hangs) and releases the buffer. */
  stop(): Promise<void> {
    if (this.#state === 'idle' || this.#state === 'stopped') return Promise.resolve();
    return (this.#stopping ??= this.#stop());
  }

  async #stop(): Promise<void> {
    const wasStarted = this.#state !== 'starting';
    this.#state = 'stopping';
    this.#resolving?.abort(); // start() rejects with ERR_STOPPED
    if (this.#preparing) {
      // Stopped while the recordings folder was being prepared: the native side never started.
      const p = this.#pendingStart;
      this.#pendingStart = null;
      p?.reject(withCallSite(new RecorderError('ERR_STOPPED', 'The recorder was stopped before the source started'), p.site));
    }
    let grace: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#native.stop(),
        new Promise<void>((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS))),
      ]);
    } finally {
      clearTimeout(grace);
      this.#state = 'stopped';
      this.#stopping = null;
      this.#stopTimer();
      this.#meter.stopped();
      this.#disk?.close();
    }
    // The last segment's index entry is on disk before stop() resolves.
    await this.#disk?.settled();
    if (wasStarted) this.emit('close');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Saves the last `seconds` of the buffer to `path` (container from the extension or `format`).
   * The file starts at the latest video keyframe at or before the requested start.
   */
  async saveLast(seconds: number, path: string, options?: SaveOptions): Promise<SaveResult> {
    const site = callSite(this.saveLast);
    try {
      positiveSeconds('seconds', seconds);
      const save = normalizeSaveOptions(path, options);
      // Everything up to handing the save to the native side is synchronous: a save accepted while
      // recording takes its packets even if stop() follows in the same tick.
      checkWritable(save.path);
      this.#assertBuffer();
      const mp3 = this.#mp3Beside(save, normalizeAudioRange({ last: seconds }, this.#wallClock).title);
      const raw = await this.#save({ last: seconds * 1e6, ...(mp3 ? { mp3: mp3.spec } : {}) }, save, mp3?.onProgress);
      return toResult(raw, seconds);
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * Saves `{ from, to }` (Dates or epoch ms; timeline seconds with `clock: 'timeline'`) to `path`.
   * A `to` in the future waits until the buffer reaches it (post-roll).
   */
  async saveRange(range: SaveRange, path: string, options?: SaveOptions): Promise<SaveResult> {
    const site = callSite(this.saveRange);
    try {
      if (!isObject(range)) throw invalid('range', 'an object { from, to }', range);
      checkKeys(range, ['from', 'to', 'clock'], 'the range');
      const clock = range.clock ?? 'wall';
      if (clock !== 'wall' && clock !== 'timeline') throw invalid('clock', "'wall' or 'timeline'", clock);
      const from = rangeBound('from', range.from, clock);
      const to = rangeBound('to', range.to, clock);
      if (!(to > from)) throw invalid('to', `a time after 'from'`, range.to);
      if (clock === 'wall' && !this.#wallClock)
        throw new RecorderError(
          'ERR_INVALID_ARG',
          "This source has no wall clock (a local file read at full speed): give the range in timeline seconds with { clock: 'timeline' }, or record it with readRate: 'native'",
        );
      const save = normalizeSaveOptions(path, options);
      checkWritable(save.path); // synchronous, as in saveLast
      this.#assertBuffer();
      // A `to` still to come waits natively until the clip is final (post-roll).
      const mp3 = this.#mp3Beside(save, normalizeAudioRange(range, this.#wallClock).title);
      const raw = await this.#save({ from, to, clock, ...(mp3 ? { mp3: mp3.spec } : {}) }, save, mp3?.onProgress);
      return toResult(raw, (to - from) / 1e6);
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * Calls `handler` for each spike: an impulsive loud event in the audio (see SpikeOptions and the
   * README's "Spikes"). With `clipDir`, also saves `[time − preRoll, time + postRoll]` of each spike and
   * emits 'clip'. Returns the function that detaches the handler.
   */
  onSpike(handler: (spike: Spike) => void, options?: SpikeOptions): () => void {
    const site = callSite(this.onSpike);
    try {
      if (typeof handler !== 'function') throw invalid('handler', 'a function (spike) => void', handler);
      const o = normalizeSpikeOptions(options);
      if (this.#info && !this.#meter.hasAudio()) throw this.#noAudio();
      const off = attachSpikeHandler(this.#spikeHost, handler, o);
      this.#spikeHandlers++;
      let attached = true;
      return () => {
        if (!attached) return;
        attached = false;
        this.#spikeHandlers--;
        off();
      };
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * A frame from the buffer, decoded, scaled and encoded off the event loop: the newest ('latest'), the
   * newest keyframe ('keyframe', one decode), or the frame on screen at an instant.
   */
  async grabFrame(options?: GrabFrameOptions): Promise<Frame> {
    const site = callSite(this.grabFrame);
    try {
      this.#assertBuffer();
      return await grabFrame({ native: this.#native, wallClock: this.#wallClock }, options);
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * Live frames for previews: at most `fps` a second (default 5), each the newest frame when it is taken.
   * Decoding happens only while the loop asks for the next frame: a slow consumer gets the newest frame,
   * never a backlog, and nothing is decoded after the loop ends. Ends when the recorder stops (or its
   * source ends and its last frame was given).
   */
  async *frames(options: Omit<GrabFrameOptions, 'at' | 'clock' | 'path'> & { fps?: number } = {}): AsyncGenerator<Frame, void, undefined> {
    const site = callSite(this.frames);
    if (!isObject(options)) throw withCallSite(invalid('options', 'an object of frame options', options), site);
    const { fps = 5, ...grab } = options;
    if (typeof fps !== 'number' || !(fps >= 0.01 && fps <= 120)) throw withCallSite(invalid('fps', 'a number of frames per second from 0.01 to 120', fps), site);
    checkKeys(grab, ['format', 'quality', 'width', 'height'], 'frames options');
    const live = () => this.#state === 'recording' || this.#state === 'reconnecting' || this.#state === 'ended';
    let last = -Infinity;
    let takenAt = 0;
    while (live()) {
      const wait = takenAt + 1000 / fps - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (!live()) return;
      let frame: Frame;
      try {
        frame = await grabFrame({ native: this.#native, wallClock: this.#wallClock }, grab);
      } catch (err) {
        if (!live()) return;
        throw withCallSite(err, site);
      }
      takenAt = Date.now();
      if (frame.timeline <= last) {
        if (this.#state === 'ended') return; // its last frame was given
        continue; // nothing newer yet: try again at the next tick of the rate
      }
      last = frame.timeline;
      yield frame;
    }
  }

  /**
   * Frames every `everySeconds` of the recorder's timeline into `dir`, from the buffer: see CaptureOptions.
   * Returns the capture: its 'frame' and 'error' events, and stop().
   */
  captureFrames(options: CaptureOptions): FrameCapture {
    const site = callSite(this.captureFrames);
    try {
      this.#assertBuffer();
      return new FrameCapture(
        {
          native: this.#native,
          wallClock: this.#wallClock,
          newest: () => (this.#state === 'stopping' || this.#state === 'stopped' ? null : this.#native.stats().newest),
          gopSeconds: () => {
            const s = this.#native.stats();
            return s.gops > 1 ? (s.newest - s.oldest) / s.gops : null;
          },
        },
        options,
      );
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * The audio envelope of a buffered range: `{ last: seconds }`, or `{ from, to, clock }` as in
   * saveRange. Levels exist from when the meter started (it starts on the first call, then reads the
   * whole buffer in the background; `meter: true` keeps it running from the start).
   */
  levels(query: LevelsQuery): Levels {
    const site = callSite(this.levels);
    try {
      this.#assertBuffer();
      return this.#meter.levels(query, this.#native.stats(), (ms) => this.#wallToTimeline(ms));
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  #wallToTimeline(ms: number): number {
    if (!this.#wallClock)
      throw new RecorderError('ERR_INVALID_ARG', "This source has no wall clock: give the range in timeline seconds with { clock: 'timeline' }");
    return this.#native.toTimeline(ms);
  }

  #noAudio(): RecorderError {
    return new RecorderError('ERR_NO_AUDIO', 'The source has no audio track: there are no spikes to detect');
  }

  // An error that is not a call's: 'error' to listeners; without one, a warning (an unheard 'error'
  // would throw and end the process, and recording goes on).
  #fail(err: RecorderError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.emit('warning', { code: err.code, message: err.message });
  }

  #assertBuffer(): void {
    if (this.#state !== 'recording' && this.#state !== 'reconnecting' && this.#state !== 'ended')
      throw new RecorderError('ERR_NOT_STARTED', `The recorder has no buffer (it is ${this.#state}); call start() first`);
  }

  #save(req: Record<string, unknown>, save: NormalizedSave, onProgress?: (p: ExportProgress) => void): Promise<RawSaveResult> {
    const id = this.#nextId++;
    return this.#cancellable(id, save.signal, () =>
      withProgress(
        this.#native.save({ ...req, id, path: save.path, format: save.format, faststart: save.faststart, partial: save.partial }),
        () => this.#native.progress(id),
        onProgress,
      ),
    );
  }

  /** The `mp3` save option, checked: a path or { path, ...Mp3Options }, never the clip's own path. */
  #mp3Beside(save: NormalizedSave, title: string): NormalizedExport | null {
    if (save.mp3 === undefined) return null;
    const o = typeof save.mp3 === 'string' ? { path: save.mp3 } : save.mp3;
    if (!isObject(o)) throw invalid('mp3', "a path, or { path, bitrate, quality, … }", save.mp3);
    const { path: p, ...rest } = o;
    const n = normalizeMp3(p, rest, title);
    checkWritable(n.spec.path as string);
    if (path.resolve(n.spec.path as string) === path.resolve(save.path)) throw invalid('mp3', "a path other than the clip's", p);
    return n;
  }

  /**
   * The audio of a buffered range as MP3 (libmp3lame, off the event loop): exactly the audio presented in
   * the range (not snapped to a video keyframe), silence for holes unless `gaps: 'skip'`. A `to` still to
   * come waits for the buffer, as saves do.
   */
  async exportMp3(range: AudioRange, file: string, options?: Mp3Options): Promise<ExportResult> {
    const site = callSite(this.exportMp3);
    try {
      const r = normalizeAudioRange(range, this.#wallClock);
      return await this.#export(r.req, normalizeMp3(file, options, `${this.#sourceName()} ${r.title}`));
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  /**
   * The audio packets of a buffered range copied into an audio container chosen by the extension (AAC:
   * .m4a/.aac/.mka, Opus: .ogg/.webm/.mka, MP3: .mp3), without re-encoding.
   */
  async exportAudio(range: AudioRange, file: string, options?: AudioCopyOptions): Promise<ExportResult> {
    const site = callSite(this.exportAudio);
    try {
      const r = normalizeAudioRange(range, this.#wallClock);
      return await this.#export(r.req, normalizeCopy(file, options, `${this.#sourceName()} ${r.title}`));
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  async #export(req: Record<string, unknown>, n: NormalizedExport): Promise<ExportResult> {
    checkWritable(n.spec.path as string); // synchronous, as in saveLast
    this.#assertBuffer();
    const id = this.#nextId++;
    if (n.signal?.aborted) throw new RecorderError('ERR_ABORTED', 'The export was aborted before it started');
    const onAbort = () => this.#native.cancel(id);
    n.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const raw = this.#native.save({ ...req, id, path: n.spec.path, audio: n.spec }) as unknown as Promise<RawExportResult>;
      return await withProgress(raw.then(toExportResult), () => this.#native.progress(id), n.onProgress);
    } finally {
      n.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * A wall-clock range as one clip from the disk segments (record option) and the memory buffer,
   * joined without re-encoding: from the keyframe at or before `from`. `from`/`to`: 'YYYYMMDD_HHMMSS'
   * (local time), Dates or epoch ms. The result says how much came from each and what nothing covers.
   */
  async footage(range: FootageRange, file: string): Promise<FootageResult> {
    const site = callSite(this.footage);
    try {
      const n = normalizeFootage(range, file);
      if (!this.#disk) this.#assertBuffer();
      // A range past the newest buffered instant ends there: what arrives later was not there to give.
      const { final, until } = await this.#settled(n.from, n.to);
      // Listed after the wait: a segment may have closed or opened meanwhile.
      const dir = this.#disk?.o.dir;
      const segments: FootageSegmentIn[] = (this.#disk?.entries() ?? []).map((e) => ({
        url: fileUrl(path.join(dir!, e.file)),
        startTime: e.start,
        // The segment being written: as long as it has been open.
        endTime: e.complete || e.duration > 0 ? e.end : Math.max(e.start, Date.now()),
        duration: e.complete || e.duration > 0 ? e.duration : Math.max(0, (Date.now() - e.start) / 1000),
        ...(e.timeline !== undefined ? { timelineStart: e.timeline } : {}),
        complete: e.complete,
      }));
      if (segments.length === 0) this.#assertBuffer();
      const r = toFootageResult(await this.#native.footage({ ...n, to: until, segments }), n, !final);
      if (n.to - until > 100) r.missing.push({ from: new Date(until), to: new Date(n.to) });
      return r;
    } catch (err) {
      throw withCallSite(err, site);
    }
  }

  // A range that reaches the newest buffered instant waits, as a save waits for its post-roll, until
  // the packets that belong with it are buffered too (MPEG-TS audio trails its video by up to a second).
  // At most FOOTAGE_SETTLE_MS: a stalled source does not hold the call. Resolves false when the wait was
  // cut short (stop, the source's end, the time limit): the result says `truncated`.
  async #settled(from: number, to: number): Promise<{ final: boolean; until: number }> {
    if (this.#state !== 'recording' && this.#state !== 'reconnecting') return { final: true, until: to };
    const newest = this.#native.stats().newestTime;
    if (newest == null || from >= newest) return { final: true, until: to }; // no wall clock, or nothing buffered in range
    const until = Math.min(to, newest);
    const id = this.#nextId++;
    const wait = this.#native.save({ id, clock: 'wall', from: from * 1000, to: until * 1000, waitOnly: true }) as unknown as Promise<boolean>;
    let timer: NodeJS.Timeout | undefined;
    try {
      const final = await Promise.race([wait, new Promise<boolean>((r) => (timer = setTimeout(() => r(false), FOOTAGE_SETTLE_MS)))]);
      return { final, until };
    } catch {
      return { final: false, until }; // (the footage itself reports what is not covered)
    } finally {
      clearTimeout(timer);
      this.#native.cancel(id);
      wait.catch(() => {});
    }
  }

  /** Segments on disk (record option), oldest first, the one being written last (complete: false). */
  recordings(): Recording[] {
    if (!this.#disk) throw new RecorderError('ERR_INVALID_ARG', 'This recorder does not record to disk: give it { record: { dir } }');
    return this.#disk.list();
  }

  // Disk trouble never stops recording to memory: an 'error' event when someone listens, else a warning.
  #recordError(err: RecorderError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else this.emit('warning', { code: 'WARN_RECORD', message: err.message });
  }

  #sourceName(): string {
    // The user's own words for the source (a page, a URL, a file name), for default titles.
    return this.#name;
  }

  async #cancellable<T>(id: number, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new RecorderError('ERR_ABORTED', 'The save was aborted before it started');
    const onAbort = () => this.#native.cancel(id);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await run();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #onNative(event: string, payload: any): void {
    // Events the thread sent before it saw stop() change nothing any more; 'closed' still settles.
    // (The disk recorder's last segment closes during stop(): its bookkeeping still counts.)
    const last = event === 'closed' || event === 'segment' || event === 'segment-open' || event === 'record-error';
    if ((this.#state === 'stopping' || this.#state === 'stopped') && !last) return;
    switch (event) {
      case 'started': {
        this.#info = payload as SourceInfo;
        this.#state = 'recording';
        this.#startTimer();
        const p = this.#pendingStart;
        this.#pendingStart = null;
        this.#meter.started(this.#info);
        p?.resolve(this.#info);
        this.emit('start', this.#info);
        if (this.#spikeHandlers > 0 && !this.#meter.hasAudio()) this.#fail(this.#noAudio());
        break;
      }
      case 'levels':
        this.#meter.onNative(payload);
        break;
      case 'segment-open':
        this.#disk?.onOpened(payload as RawSegment);
        break;
      case 'segment':
        this.#disk?.onClosed(payload as RawSegment);
        break;
      case 'record-error':
        this.#recordError(payload as RecorderError);
        break;
      case 'resolve':
        void this.#reresolve();
        break;
      case 'meterError':
        this.#fail(payload);
        break;
      case 'reconnecting':
        this.#state = 'reconnecting';
        this.emit('reconnecting', payload);
        break;
      case 'warning':
        this.emit('warning', payload);
        break;
      case 'reconnected':
        this.#state = 'recording';
        this.#info = payload.info;
        this.emit('reconnected', payload);
        break;
      case 'end': {
        const error: RecorderError | null = payload.error;
        if (!payload.started) {
          // start() fails once the thread is gone ('closed'), so that a retry can start at once.
          if (this.#pendingStart) this.#pendingStart.error = error ?? undefined;
          break;
        }
        this.#state = 'ended';
        this.#stopTimer(); // the buffer changes no more: one last memory report, then no timer
        void this.stats;
        this.emit('end', { error });
        // 'error' without a listener would throw from here and crash the process: only emit it to listeners.
        if (error && this.listenerCount('error') > 0) this.emit('error', error);
        break;
      }
      case 'closed': {
        const p = this.#pendingStart;
        this.#pendingStart = null;
        if (p) {
          const err = p.error ?? new RecorderError('ERR_STOPPED', 'The recorder was stopped before the source started');
          p.reject(withCallSite(err, p.site));
          this.#state = 'stopped';
          this.#stopTimer();
          return;
        }
        // A run that ended by itself keeps its buffer (state 'ended') until stop().
        break;
      }
    }
  }

  #startTimer(): void {
    if (this.#timer) return;
    // Also keeps V8's view of native memory current (stats() reports it), so it runs without listeners
    // too. It holds the recorder weakly: a timer must not keep alive a recorder its user has let go of.
    const self = new WeakRef(this);
    const timer: NodeJS.Timeout = setInterval(() => {
      const rec = self.deref();
      if (rec) rec.#tick();
      else clearInterval(timer);
    }, (this.#statsInterval || 1) * 1000);
    timer.unref();
    this.#timer = timer;
  }

  #tick(): void {
    const stats = this.stats;
    if (this.#statsInterval > 0) this.emit('stats', stats);
  }

  #stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}

// Two quick syscalls, done synchronously so that the save is handed over in the caller's tick.
function toResult(raw: RawSaveResult, requested: number): SaveResult {
  return {
    path: raw.path,
    format: raw.format,
    ...spanOf(raw),
    requested,
    bytes: raw.bytes,
    packets: raw.packets,
    dropped: raw.dropped,
    truncated: raw.truncated,
    gaps: raw.gaps,
    streams: raw.streams,
    ...(raw.mp3 ? { mp3: toExportResult(raw.mp3) } : {}),
  };
}
