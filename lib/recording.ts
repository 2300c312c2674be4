// Continuous recording's bookkeeping: the native disk recorder (native/segment_writer.cc) writes the
// segments; this keeps recording_index.json (written atomically after each segment, rebuilt from the files
// when missing or stale), applies retention (age, total size, free space; never the open segment) and
// answers recordings().
import { readdir, readFile, rename, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RecorderError } from './errors.js';
import { native } from './native.js';
import { checkKeys, fileUrl, invalid, isObject, nonEmptyString, positiveInteger, positiveSeconds } from './options.js';

export interface RecordOptions {
  /** Where segments go (created if missing). */
  dir: string;
  /** Segment length: a new segment starts at the first keyframe at or after each multiple (local time). Default 600. */
  segmentSeconds?: number;
  /** 'mp4' (fragmented, default) or 'ts'. */
  format?: 'mp4' | 'ts';
  /** Delete segments that ended longer ago than this. Default 72; 0 keeps them. */
  retainHours?: number;
  /** Delete the oldest segments while all of them take more than this. */
  maxBytes?: number;
  /** Delete the oldest segments while the disk has less free space than this. */
  minFreeBytes?: number;
}

export interface Recording {
  /** The segment's path (dir joined with its name). */
  file: string;
  start: Date;
  end: Date;
  bytes: number;
  /** Seconds of media in it. */
  duration: number;
  /** Closed properly (false: being written, or cut short by a crash or a write error). */
  complete: boolean;
}

export interface NormalizedRecord {
  dir: string;
  segmentSeconds: number;
  format: 'mp4' | 'ts';
  retainHours: number;
  maxBytes?: number;
  minFreeBytes?: number;
}

export const INDEX = 'recording_index.json';
const NAME = /^recording_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})(?:_\d+)?\.(mp4|ts)$/;

export function normalizeRecord(v: unknown): NormalizedRecord | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw invalid('record', 'an object { dir, segmentSeconds, format, retainHours, maxBytes, minFreeBytes }', v);
  checkKeys(v, ['dir', 'segmentSeconds', 'format', 'retainHours', 'maxBytes', 'minFreeBytes'], 'record options');
  const dir = nonEmptyString('record.dir', v.dir);
  const segmentSeconds = v.segmentSeconds === undefined ? 600 : positiveSeconds('record.segmentSeconds', v.segmentSeconds);
  if (segmentSeconds < 1 || segmentSeconds > 86400) throw invalid('record.segmentSeconds', 'from 1 to 86400 seconds', segmentSeconds);
  if (v.format !== undefined && v.format !== 'mp4' && v.format !== 'ts') throw invalid('record.format', "'mp4' or 'ts'", v.format);
  let retainHours = 72;
  if (v.retainHours !== undefined) {
    if (typeof v.retainHours !== 'number' || !(v.retainHours >= 0)) throw invalid('record.retainHours', 'a number of hours (0: keep)', v.retainHours);
    retainHours = v.retainHours;
  }
  const maxBytes = v.maxBytes === undefined ? undefined : positiveInteger('record.maxBytes', v.maxBytes);
  const minFreeBytes = v.minFreeBytes === undefined ? undefined : positiveInteger('record.minFreeBytes', v.minFreeBytes);
  return { dir, segmentSeconds, format: (v.format as 'mp4' | 'ts' | undefined) ?? 'mp4', retainHours, maxBytes, minFreeBytes };
}

/** The start a segment's name says (local time, whole seconds), or null for another file. */
export function nameTime(name: string): Date | null {
  const m = NAME.exec(name);
  if (!m) return null;
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

interface Entry {
  file: string; // name within dir
  start: number; // epoch ms
  end: number;
  bytes: number;
  duration: number;
  complete: boolean;
  /** Recorder-timeline seconds of the first packet, while this process's recorder runs (footage joins). */
  timeline?: number;
}

/** The index of a recordings folder: read, checked against the files, rebuilt where it is wrong. */
export async function loadIndex(dir: string): Promise<Entry[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
  let listed: Entry[] = [];
  try {
    const j = JSON.parse(await readFile(path.join(dir, INDEX), 'utf8'));
    if (Array.isArray(j)) listed = j.filter((e) => isObject(e) && typeof e.file === 'string').map(fromJson);
  } catch {
    // missing or unreadable: rebuilt below
  }
  const byName = new Map(listed.map((e) => [e.file, e]));
  const out: Entry[] = [];
  for (const name of names) {
    const known = byName.get(name);
    const st = await stat(path.join(dir, name)).catch(() => null);
    if (!st) continue;
    // Trusted only when it was closed properly and the file is still as it was then.
    if (known && known.complete && known.bytes === st.size) {
      out.push({ ...known, timeline: undefined });
      continue;
    }
    // A crash (or a write error) cut it short, or the index never saw it: read the file itself.
    try {
      const p = await native().probeMedia(fileUrl(path.join(dir, name)));
      const start = known?.start ?? nameTime(name)!.getTime();
      out.push({ file: name, start, end: start + p.duration * 1000, bytes: st.size, duration: p.duration, complete: false });
    } catch {
      // Not even a header: nothing playable in it.
    }
  }
  return out;
}

async function writeIndex(dir: string, entries: Entry[]): Promise<void> {
  const tmp = path.join(dir, `.${INDEX}.${process.pid}.partial`);
  const body = JSON.stringify(entries.map(({ timeline: _, ...e }) => ({ ...e, start: new Date(e.start).toISOString(), end: new Date(e.end).toISOString() })), null, 1);
  await writeFile(tmp, body);
  await rename(tmp, path.join(dir, INDEX));
}

/** Reads an index as written by writeIndex (ISO times) or by an older run. */
function fromJson(e: Record<string, unknown>): Entry {
  const t = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : Number(v));
  return { file: String(e.file), start: t(e.start), end: t(e.end), bytes: Number(e.bytes), duration: Number(e.duration), complete: e.complete === true };
}

export interface DiskRecorderHost {
  emit(event: 'segment', s: Recording): void;
  emit(event: 'deleted', d: Recording & { reason: 'age' | 'size' | 'space' }): void;
  error(err: RecorderError): void;
}

/** One recorder's recordings folder. */
export class DiskRecorder {
  readonly o: NormalizedRecord;
  #entries: Entry[] = [];
  #open: string | null = null;
  #host: DiskRecorderHost;
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;

  constructor(o: NormalizedRecord, host: DiskRecorderHost) {
    this.o = o;
    this.#host = host;
  }

  /** Before the native recorder starts: the folder exists, the index is right, retention has run. */
  async prepare(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true });
    this.#entries = await loadIndex(this.o.dir);
    await this.#save();
    await this.#retain();
    this.#timer ??= setInterval(() => this.#queue(() => this.#retain()), 60_000).unref();
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Waits for index writes and deletions under way. */
  settled(): Promise<void> {
    return this.#chain;
  }

  onOpened(s: RawSegment): void {
    this.#open = s.file;
    const start = s.startTime ?? Date.now();
    this.#entries.push({ file: s.file, start, end: start, bytes: 0, duration: 0, complete: false, timeline: s.start });
    this.#queue(() => this.#save());
  }

  onClosed(s: RawSegment): void {
    if (this.#open === s.file) this.#open = null;
    const e = this.#entries.find((x) => x.file === s.file);
    if (!e) return;
    e.duration = s.end - s.start;
    e.end = s.endTime ?? e.start + e.duration * 1000;
    e.bytes = s.bytes;
    e.complete = s.complete;
    this.#queue(async () => {
      await this.#save();
      this.#host.emit('segment', this.#public(e));
      await this.#retain();
    });
  }

  list(): Recording[] {
    return this.#entries.map((e) => this.#public(e));
  }

  /** Segments with their timeline start (this run's), for footage. */
  entries(): readonly Entry[] {
    return this.#entries;
  }

  #public(e: Entry): Recording {
    return { file: path.join(this.o.dir, e.file), start: new Date(e.start), end: new Date(e.end), bytes: e.bytes, duration: e.duration, complete: e.complete };
  }

  #queue(job: () => Promise<void>): void {
    this.#chain = this.#chain.then(job).catch((err) => this.#host.error(new RecorderError('ERR_WRITE', `Recordings in '${this.o.dir}': ${(err as Error).message}`)));
  }

  async #save(): Promise<void> {
    await writeIndex(this.o.dir, this.#entries);
  }

  // Oldest first; never the segment being written.
  async #retain(): Promise<void> {
    const o = this.o;
    const closed = () => this.#entries.filter((e) => e.file !== this.#open);
    const drop = async (e: Entry, reason: 'age' | 'size' | 'space') => {
      await unlink(path.join(o.dir, e.file)).catch((err) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      });
      this.#entries = this.#entries.filter((x) => x !== e);
      this.#host.emit('deleted', { ...this.#public(e), reason });
    };
    let changed = false;
    if (o.retainHours > 0) {
      const limit = Date.now() - o.retainHours * 3600_000;
      for (const e of closed()) if (e.end < limit) (await drop(e, 'age'), (changed = true));
    }
    if (o.maxBytes !== undefined) {
      const total = () => this.#entries.reduce((s, e) => s + e.bytes, 0);
      for (const e of closed()) {
        if (total() <= o.maxBytes) break;
        await drop(e, 'size');
        changed = true;
      }
    }
    if (o.minFreeBytes !== undefined) {
      for (const e of closed()) {
        const fs = await statfs(o.dir);
        if (fs.bavail * fs.bsize >= o.minFreeBytes) break;
        await drop(e, 'space');
        changed = true;
      }
    }
    if (changed) await this.#save();
  }
}

export interface RawSegment {
  file: string;
  startTime: number | null;
  endTime: number | null;
  start: number;
  end: number;
  bytes: number;
  complete: boolean;
}
