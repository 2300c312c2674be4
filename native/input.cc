#include "input.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "errors.h"

namespace avr {

InputPtr OpenInput(const InputRequest& r) {
  const AVInputFormat* fmt = nullptr;
  if (!r.format.empty()) {
    fmt = av_find_input_format(r.format.c_str());
    if (!fmt) Fail(code::kInvalidArg, "FFmpeg has no input format or device named '" + r.format + "'");
  }
  AVFormatContext* ic = avformat_alloc_context();
  if (!ic) Fail(code::kOpenInput, "Out of memory");
  ic->interrupt_callback = r.interrupt;
  if (fmt && fmt->priv_class) {
    // Device reads (v4l2, alsa…) block without asking the interrupt callback; non-blocking mode makes
    // them return EAGAIN instead, so stop() and the stall timeout still work.
    const AVClassCategory cat = fmt->priv_class->category;
    if (cat == AV_CLASS_CATEGORY_DEVICE_VIDEO_INPUT || cat == AV_CLASS_CATEGORY_DEVICE_AUDIO_INPUT ||
        cat == AV_CLASS_CATEGORY_DEVICE_INPUT)
      ic->flags |= AVFMT_FLAG_NONBLOCK;
  }
  if (r.prepare) r.prepare(ic, r.prepare_opaque);
  Dict o;
  for (const auto& kv : r.options) {
    // Generic format options (probesize, fflags…) are checked here, so that a bad value names its
    // option; demuxer and protocol options are checked by libav when it opens them.
    const int ret = av_opt_set(ic, kv.first.c_str(), kv.second.c_str(), 0);
    if (ret < 0 && ret != AVERROR_OPTION_NOT_FOUND) {
      avformat_free_context(ic);
      Fail(code::kInvalidArg, "FFmpeg refused inputOptions." + kv.first + " = '" + kv.second + "'", ret);
    }
    o.Set(kv.first, kv.second);
  }
  const auto stopped = [&] { return r.stopped && r.stopped->load(); };
  if (r.deadline_us) *r.deadline_us = av_gettime_relative() + r.timeout_us;
  int ret = avformat_open_input(&ic, r.url.c_str(), fmt, o.Addr());  // frees ic on failure
  if (ret < 0) {
    if (r.deadline_us) *r.deadline_us = 0;
    if (stopped()) Fail(code::kStopped, "Stopped while opening the source");
    if (ret == AVERROR_EXIT) Fail(code::kTimeout, "Timed out opening '" + r.url + "'", ret);
    Fail(code::kOpenInput, "Could not open '" + r.url + "'", ret);
  }
  InputPtr input(ic);
  if (av_dict_count(o.Get()) > 0) {
    std::string unknown;
    const AVDictionaryEntry* e = nullptr;
    while ((e = av_dict_get(o.Get(), "", e, AV_DICT_IGNORE_SUFFIX)))
      unknown += (unknown.empty() ? "'" : ", '") + std::string(e->key) + "'";
    Fail(code::kInvalidArg, "The " + std::string(ic->iformat->name) + " input does not know the option(s) " + unknown);
  }
  ret = ProbeStreams(ic);
  if (r.deadline_us) *r.deadline_us = 0;
  if (ret < 0) {
    if (stopped()) Fail(code::kStopped, "Stopped while probing the source");
    if (ret == AVERROR_EXIT) Fail(code::kTimeout, "Timed out reading stream information from '" + r.url + "'", ret);
    Fail(code::kOpenInput, "Could not read stream information from '" + r.url + "'", ret);
  }
  return input;
}

int ProbeStreams(AVFormatContext* ic) {
  // Probing decodes a few frames. With the decoders' default thread count each probe spins up frame
  // threads whose frame pools land in per-thread malloc arenas and stay resident after the threads end
  // (tens of MB for the first 1080p recorder in a process): probe single-threaded, then give back what
  // probing freed.
  std::vector<AVDictionary*> opts(ic->nb_streams, nullptr);
  for (auto& o : opts) av_dict_set(&o, "threads", "1", 0);
  const int ret = avformat_find_stream_info(ic, opts.empty() ? nullptr : opts.data());
  for (auto& o : opts) av_dict_free(&o);
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return ret;
}

}  // namespace avr
