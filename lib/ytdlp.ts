// Sites (YouTube and the rest yt-dlp knows) as sources: yt-dlp, through yt-dlp-wrap, turns the page URL
// into a media URL and the HTTP headers it needs. The native side opens that URL; before every
// reconnect it asks for a fresh one (such URLs expire), through the 'resolve' event.
import ytdlpWrapModule from 'yt-dlp-wrap';
import { RecorderError } from './errors.js';
import { checkKeys, invalid, isObject, nonEmptyString } from './options.js';

export interface YtdlpOptions {
  /** The yt-dlp executable. Default: `yt-dlp` on PATH. */
  binary?: string;
  /** yt-dlp's format selection. Default: one format with both audio and video, else the best. */
  format?: string;
  /** A Netscape cookies file for yt-dlp (`--cookies`), for pages that need a login. */
  cookies?: string;
  /** More yt-dlp arguments, passed before the URL. */
  extraArgs?: string[];
}

export interface NormalizedYtdlp {
  binary: string;
  format: string;
  cookies: string | undefined;
  extraArgs: string[];
}

export const DEFAULT_YTDLP_FORMAT = 'best[acodec!=none][vcodec!=none]/best';

export function normalizeYtdlp(v: unknown): NormalizedYtdlp | null {
  if (v === undefined || v === false) return null;
  const o: Record<string, unknown> = v === true ? {} : isObject(v) ? v : {};
  if (v !== true && !isObject(v)) throw invalid('ytdlp', 'true or { binary, format, cookies, extraArgs }', v);
  checkKeys(o, ['binary', 'format', 'cookies', 'extraArgs'], 'ytdlp options');
  const extraArgs = o.extraArgs ?? [];
  if (!Array.isArray(extraArgs) || extraArgs.some((a) => typeof a !== 'string' || a.includes('\0')))
    throw invalid('ytdlp.extraArgs', 'an array of strings', o.extraArgs);
  return {
    binary: o.binary === undefined ? 'yt-dlp' : nonEmptyString('ytdlp.binary', o.binary),
    format: o.format === undefined ? DEFAULT_YTDLP_FORMAT : nonEmptyString('ytdlp.format', o.format),
    cookies: o.cookies === undefined ? undefined : nonEmptyString('ytdlp.cookies', o.cookies),
    extraArgs: extraArgs as string[],
  };
}

export interface Resolved {
  url: string;
  /** libavformat options carrying yt-dlp's HTTP headers (user_agent, headers). */
  inputOptions: Record<string, string>;
  /**
   * true: yt-dlp says live; false: it says not live (a video on demand); null: it does not know (the
   * generic extractor on a plain page or playlist).
   */
  live: boolean | null;
}

/** What the user set beside the page, kept over what yt-dlp gives. */
export interface UserSource {
  inputOptions: Record<string, string>;
  readRateSet: boolean;
  reconnectSet: boolean;
}

/**
 * The native source for a resolution: its URL and headers (the user's own input options win). At
 * start also how to read it: not known to be live, at real-time speed, so the buffer behaves as live
 * (harmless for a live stream, which comes no faster); known to be a video on demand, its end is the end.
 */
export function nativeSource(r: Resolved, user: UserSource, atStart: boolean) {
  return {
    url: r.url,
    inputOptions: { ...r.inputOptions, ...user.inputOptions },
    ...(atStart && r.live !== true && !user.readRateSet ? { readRate: 1 } : {}),
    ...(atStart && r.live === false && !user.reconnectSet ? { reconnect: false } : {}),
  };
}

// yt-dlp-wrap is CommonJS with `exports.default`: the class sits one level down under some loaders.
type Wrap = { execPromise(args: string[], options?: object): Promise<string> & { ytDlpProcess?: { kill(signal?: string): boolean } } };
const YTDlpWrap = ((ytdlpWrapModule as unknown as { default?: unknown }).default ?? ytdlpWrapModule) as new (binary: string) => Wrap;

/** Runs yt-dlp on `page`. Rejects with ERR_YTDLP_MISSING or ERR_RESOLVE. */
export async function resolveWithYtdlp(page: string, o: NormalizedYtdlp, signal?: AbortSignal): Promise<Resolved> {
  const args = ['-J', '--no-warnings', '--no-playlist', '-f', o.format];
  if (o.cookies) args.push('--cookies', o.cookies);
  args.push(...o.extraArgs, page);
  let out: string;
  // Aborted (stop()): the process is killed here. yt-dlp-wrap's own abort runs `pgrep | xargs kill`
  // through execSync, which would block the event loop.
  const run = new YTDlpWrap(o.binary).execPromise(args, { maxBuffer: 64 * 1024 * 1024 });
  const kill = () => run.ytDlpProcess?.kill('SIGTERM');
  signal?.addEventListener('abort', kill, { once: true });
  try {
    out = await run;
  } catch (err) {
    const text = String((err as Error)?.message ?? err);
    if (/ENOENT/.test(text))
      throw new RecorderError(
        'ERR_YTDLP_MISSING',
        `yt-dlp was not found ('${o.binary}'): install it (Debian/Ubuntu: apt-get install yt-dlp; anywhere: pip install yt-dlp), or give its path as ytdlp: { binary }`,
      );
    // yt-dlp's own words: its ERROR lines.
    const said = text.split('\n').filter((l) => /^ERROR:/.test(l.trim())).join(' ').trim();
    throw new RecorderError('ERR_RESOLVE', `yt-dlp could not resolve '${page}': ${said || text.trim()}`);
  } finally {
    signal?.removeEventListener('abort', kill);
  }
  let info: Record<string, any>;
  try {
    info = JSON.parse(out);
  } catch {
    throw new RecorderError('ERR_RESOLVE', `yt-dlp printed no JSON for '${page}'`);
  }
  if (info._type === 'playlist') info = info.entries?.[0] ?? {};
  if (!info.url && Array.isArray(info.requested_formats))
    throw new RecorderError(
      'ERR_RESOLVE',
      `yt-dlp's format '${o.format}' selects separate video and audio streams (${info.format_id}); choose one format that has both, e.g. '${DEFAULT_YTDLP_FORMAT}'`,
    );
  if (typeof info.url !== 'string' || !info.url) throw new RecorderError('ERR_RESOLVE', `yt-dlp found no media URL for '${page}'`);
  return { url: info.url, inputOptions: httpOptions(info.http_headers, info.cookies), live: liveness(info) };
}

function liveness(info: Record<string, any>): boolean | null {
  if (info.is_live === true || info.live_status === 'is_live' || info.live_status === 'is_upcoming') return true;
  if (info.is_live === false || ['not_live', 'was_live', 'post_live'].includes(info.live_status)) return false;
  return null;
}

/** yt-dlp's headers as libavformat's http options: user_agent, and the rest (and cookies) in `headers`. */
export function httpOptions(headers: Record<string, string> | undefined, cookies: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  let lines = '';
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (typeof v !== 'string' || /[\r\n\0]/.test(k + v)) continue;
    if (k.toLowerCase() === 'user-agent') out.user_agent = v;
    else lines += `${k}: ${v}\r\n`;
  }
  // yt-dlp gives cookies as Set-Cookie-like text; the request needs their name=value pairs.
  if (typeof cookies === 'string' && cookies) {
    const attrs = /^(domain|path|expires|max-age|secure|httponly|samesite)$/i;
    const pairs = cookies
      .split(/;\s*/)
      .map((c) => c.trim())
      .filter((c) => c.includes('=') && !attrs.test(c.split('=')[0]));
    if (pairs.length && !/[\r\n\0]/.test(pairs.join(''))) lines += `Cookie: ${pairs.join('; ')}\r\n`;
  }
  if (lines) out.headers = lines;
  return out;
}
