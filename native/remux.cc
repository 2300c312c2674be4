#include "remux.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "errors.h"

namespace avr {

std::string GuessMuxer(const std::string& path, const std::string& format) {
  const AVOutputFormat* f = av_guess_format(format.empty() ? nullptr : format.c_str(), path.c_str(), nullptr);
  return f ? f->name : "";
}

namespace {

int Interrupted(void* opaque) {
  auto* cancel = static_cast<const std::atomic<bool>*>(opaque);
  return cancel && cancel->load() ? 1 : 0;
}

// Removes the temporary file unless the save got all the way to the rename.
struct TempFile {
  std::string path;
  bool keep = false;
  ~TempFile() {
    if (!keep) unlink(path.c_str());
  }
};

std::string TempPathFor(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path p(path);
  std::string name = "." + p.filename().string() + ".partial-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  return (p.parent_path() / name).string();
}

}  // namespace

RemuxResult Remux(const Snapshot& snap, const RemuxOptions& opts) {
  // An interrupted libav call returns AVERROR_EXIT: that is the user's cancel, not a write failure.
  auto check = [&](int ret, const std::string& what) {
    if (ret == AVERROR_EXIT && opts.cancel && opts.cancel->load()) Fail(code::kAborted, "The save was aborted");
    return Check(ret, code::kWrite, what);
  };
  const AVOutputFormat* ofmt =
      av_guess_format(opts.format.empty() ? nullptr : opts.format.c_str(), opts.path.c_str(), nullptr);
  if (!ofmt) Fail(code::kInvalidArg, "No muxer for '" + opts.path + "'");
  if (snap.packets.empty()) Fail(code::kRangeNotBuffered, "The requested range holds no packets");

  TempFile tmp{TempPathFor(opts.path)};
  AVFormatContext* raw = nullptr;
  Check(avformat_alloc_output_context2(&raw, ofmt, nullptr, tmp.path.c_str()), code::kWrite,
        "Could not create the output");
  OutputPtr out(raw);
  out->interrupt_callback = {Interrupted, (void*)opts.cancel};

  // Tracks the clip's first connection did not have get no stream in the file.
  std::vector<int> stream_of(snap.tracks.size(), -1);
  for (size_t i = 0; i < snap.tracks.size(); i++) {
    const TrackParams& t = snap.tracks[i];
    if (!t.par) continue;
    AVStream* st = avformat_new_stream(out.get(), nullptr);
    if (!st) Fail(code::kWrite, "Out of memory");
    stream_of[i] = st->index;
    Check(avcodec_parameters_copy(st->codecpar, t.par.get()), code::kWrite, "Could not copy codec parameters");
    st->codecpar->codec_tag = 0;  // let the muxer pick the tag for its container
    st->time_base = t.type == AVMEDIA_TYPE_AUDIO && t.par->sample_rate ? AVRational{1, t.par->sample_rate}
                                                                         : AVRational{1, 90000};
  }
  if (!(ofmt->flags & AVFMT_NOFILE)) {
    check(avio_open2(&out->pb, tmp.path.c_str(), AVIO_FLAG_WRITE, &out->interrupt_callback, nullptr),
          "Could not open '" + opts.path + "' for writing");
  }
  Dict mux_opts;
  if (opts.faststart) mux_opts.Set("movflags", "+faststart");
  check(avformat_write_header(out.get(), mux_opts.Addr()), std::string("Could not write the ") + ofmt->name + " header");

  RemuxResult r;
  r.format = ofmt->name;
  PacketPtr pkt = MakePacket();
  for (size_t i = 0; i < snap.packets.size(); i++) {
    if (opts.cancel && opts.cancel->load()) Fail(code::kAborted, "The save was aborted");
    const int track = stream_of[snap.track_of[i]];
    if (track < 0) continue;
    AVStream* st = out->streams[track];
    // A fresh reference per write: the muxer takes ownership of what it is given.
    Check(av_packet_ref(pkt.get(), snap.packets[i].get()), code::kWrite, "Out of memory");
    av_packet_rescale_ts(pkt.get(), kMicros, st->time_base);
    pkt->stream_index = track;
    pkt->pos = -1;
    const int64_t end = snap.packets[i]->pts + snap.packets[i]->duration;
    r.duration = std::max(r.duration, end);
    int ret = av_interleaved_write_frame(out.get(), pkt.get());
    av_packet_unref(pkt.get());
    check(ret, "Could not write to '" + opts.path + "'");
    r.packets++;
  }
  check(av_write_trailer(out.get()), "Could not finish '" + opts.path + "'");
  if (out->pb && !(ofmt->flags & AVFMT_NOFILE)) {
    Check(avio_closep(&out->pb), code::kWrite, "Could not close '" + opts.path + "'");
  }
  out.reset();

  std::error_code ec;
  r.bytes = (int64_t)std::filesystem::file_size(tmp.path, ec);
  if (std::rename(tmp.path.c_str(), opts.path.c_str()) != 0)
    Fail(code::kWrite, "Could not move the finished file to '" + opts.path + "'", AVERROR(errno));
  tmp.keep = true;
  return r;
}

}  // namespace avr
