// The standalone exports: exportMp3(input, output) and exportAudio(input, output) for any file or URL.
import { exportFile, type AudioCopyOptions, type ExportResult, type FileExportOptions, type Mp3Options } from './audio_export.js';
import { callSite, withCallSite } from './errors.js';

/** The audio of any file or URL libavformat opens (its best audio stream, or `stream`) as MP3. */
export async function exportMp3(input: string, output: string, options?: Mp3Options & FileExportOptions): Promise<ExportResult> {
  const site = callSite(exportMp3);
  try {
    return await exportFile(input, output, options, true);
  } catch (err) {
    throw withCallSite(err, site);
  }
}

/** The audio packets of a file or URL copied into an audio container (by extension), without re-encoding. */
export async function exportAudio(input: string, output: string, options?: AudioCopyOptions & FileExportOptions): Promise<ExportResult> {
  const site = callSite(exportAudio);
  try {
    return await exportFile(input, output, options, false);
  } catch (err) {
    throw withCallSite(err, site);
  }
}
