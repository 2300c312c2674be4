// Records a source that ends (a file read at full speed) to its end: the recorder that holds it all.
import { Recorder } from 'av-rewind';

/** `setup(rec)` runs before start(), to attach listeners. Resolves with { rec, info, end }. */
export async function recordToEnd(options, setup) {
  const rec = new Recorder({ statsInterval: 0, ...options });
  setup?.(rec);
  const ended = new Promise((resolve) => rec.once('end', resolve));
  const info = await rec.start();
  const end = await ended;
  return { rec, info, end };
}
