#include "muxer.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
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

std::string TempPathFor(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path p = std::filesystem::absolute(path);
  std::string name = "." + p.filename().string() + ".partial-" + std::to_string(getpid()) + "-" +
                     std::to_string(counter++);
  return (p.parent_path() / name).string();
}

// libavformat reads a name with ':' as "protocol:rest" (cam-12:00:00.mp4 → protocol "cam-12"); the
// file: prefix makes every path a file, including the mov muxer's faststart pass, which reopens it.
std::string FileUrl(const std::string& path) { return "file:" + path; }

// Apple's players (Safari, QuickTime, iOS) play HEVC in mp4/mov only as 'hvc1': parameter sets in the
// sample description, none required in-band. That holds when the extradata carries VPS, SPS and PPS,
// as an hvcC record or as Annex B start-code units.
bool HevcParamSetsInExtradata(const AVCodecParameters* par) {
  const uint8_t* d = par->extradata;
  const int n = par->extradata_size;
  if (!d || n < 4) return false;
  unsigned seen = 0;  // bit per NAL type 32 (VPS), 33 (SPS), 34 (PPS)
  if (d[0] == 1 && n >= 23) {  // hvcC: arrays of NAL units after a 23-byte header
    int pos = 23;
    const int arrays = d[22];
    for (int a = 0; a < arrays && pos + 3 <= n; a++) {
      const int type = d[pos] & 0x3f;
      const int count = (d[pos + 1] << 8) | d[pos + 2];
      pos += 3;
      for (int k = 0; k < count && pos + 2 <= n; k++) {
        const int len = (d[pos] << 8) | d[pos + 1];
        pos += 2 + len;
        if (len > 0 && type >= 32 && type <= 34) seen |= 1u << (type - 32);
      }
    }
  } else {  // Annex B
    for (int i = 0; i + 3 < n; i++) {
      if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
        const int type = (d[i + 3] >> 1) & 0x3f;
        if (type >= 32 && type <= 34) seen |= 1u << (type - 32);
      }
    }
  }
  return seen == 7;
}

}  // namespace

int Muxer::Check(int ret, const std::string& what) const {
  // An interrupted libav call returns AVERROR_EXIT: that is the user's cancel, not a write failure.
  if (ret == AVERROR_EXIT && opts_.cancel && opts_.cancel->load()) Fail(code::kAborted, "The save was aborted");
  return avr::Check(ret, code::kWrite, what);
}

Muxer::Muxer(const MuxOptions& opts, const std::vector<TrackParams>& tracks) : opts_(opts) {
  const AVOutputFormat* ofmt =
      av_guess_format(opts.format.empty() ? nullptr : opts.format.c_str(), opts.path.c_str(), nullptr);
  if (!ofmt) Fail(code::kInvalidArg, "No muxer for '" + opts.path + "'");
  format_ = ofmt->name;
  tmp_.path = opts.in_place ? opts.path : TempPathFor(opts.path);
  tmp_.keep = opts.in_place;
  const std::string url = FileUrl(tmp_.path);
  AVFormatContext* raw = nullptr;
  avr::Check(avformat_alloc_output_context2(&raw, ofmt, nullptr, url.c_str()), code::kWrite,
             "Could not create the output");
  out_.reset(raw);
  out_->interrupt_callback = {Interrupted, (void*)opts.cancel};
  const bool mov = !strcmp(ofmt->name, "mp4") || !strcmp(ofmt->name, "mov");

  stream_of_.assign(tracks.size(), -1);
  for (size_t i = 0; i < tracks.size(); i++) {
    const TrackParams& t = tracks[i];
    if (!t.par) continue;
    AVStream* st = avformat_new_stream(out_.get(), nullptr);
    if (!st) Fail(code::kWrite, "Out of memory");
    stream_of_[i] = st->index;
    avr::Check(avcodec_parameters_copy(st->codecpar, t.par.get()), code::kWrite, "Could not copy codec parameters");
    st->codecpar->codec_tag = 0;  // let the muxer pick the tag for its container
    if (mov && t.par->codec_id == AV_CODEC_ID_HEVC && HevcParamSetsInExtradata(t.par.get()))
      st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
    st->time_base = t.type == AVMEDIA_TYPE_AUDIO && t.par->sample_rate ? AVRational{1, t.par->sample_rate}
                                                                         : AVRational{1, 90000};
  }
  if (!(ofmt->flags & AVFMT_NOFILE)) {
    Check(avio_open2(&out_->pb, url.c_str(), AVIO_FLAG_WRITE, &out_->interrupt_callback, nullptr),
          "Could not open '" + opts.path + "' for writing");
  }
  for (const auto& kv : opts.metadata) av_dict_set(&out_->metadata, kv.first.c_str(), kv.second.c_str(), 0);
  if (opts.in_place) out_->flush_packets = 1;  // every packet (every finished fragment) reaches the file
  Dict mux_opts;
  if (opts.faststart) mux_opts.Set("movflags", "+faststart");
  for (const auto& kv : opts.muxer_options) mux_opts.Set(kv.first, kv.second);
  const int ret = avformat_write_header(out_.get(), mux_opts.Addr());
  if (ret < 0) {
    // Say what is wrong when it is the source's fault: a video stream whose size nobody could read.
    for (const TrackParams& t : tracks)
      if (t.par && t.type == AVMEDIA_TYPE_VIDEO && (t.par->width <= 0 || t.par->height <= 0))
        Fail(code::kWrite,
             std::string("Could not write the ") + ofmt->name + " header: the " + avcodec_get_name(t.par->codec_id) +
                 " video has no known size (" + std::to_string(t.par->width) + "x" + std::to_string(t.par->height) +
                 "): the source sent no parameter sets (SPS) that could be decoded. A .ts save keeps the packets "
                 "as they are",
             ret);
    Check(ret, std::string("Could not write the ") + ofmt->name + " header");
  }
  pkt_ = MakePacket();
  if (!pkt_) Fail(code::kWrite, "Out of memory");
}

Muxer::TempFile::~TempFile() {
  if (!keep && !path.empty()) unlink(path.c_str());
}

Muxer::~Muxer() = default;

int64_t Muxer::bytes() const { return out_ && out_->pb ? avio_tell(out_->pb) : 0; }

void Muxer::Write(int track, const PacketData& data, int64_t pts, int64_t dts, int64_t duration) {
  if (opts_.cancel && opts_.cancel->load()) Fail(code::kAborted, "The save was aborted");
  const int index = track < (int)stream_of_.size() ? stream_of_[track] : -1;
  if (index < 0) return;
  AVStream* st = out_->streams[index];
  // A fresh reference per write: the muxer takes ownership of what it is given.
  data.Fill(pkt_.get());
  pkt_->pts = pts;
  pkt_->dts = dts;
  pkt_->duration = duration;
  av_packet_rescale_ts(pkt_.get(), kMicros, st->time_base);
  pkt_->stream_index = index;
  pkt_->pos = -1;
  const int ret = av_interleaved_write_frame(out_.get(), pkt_.get());
  av_packet_unref(pkt_.get());
  if (ret < 0 && ret != AVERROR_EXIT && ret != AVERROR(ENOMEM) && !(out_->pb && out_->pb->error < 0)) {
    // The file is fine, this packet is not: the container's bitstream conversion rejected it (a corrupt
    // ADTS header on its way into mp4). Leave it out, as a player skips it, and save the rest.
    if (dropped_++ == 0) {
      char what[160];
      snprintf(what, sizeof what, "the %s packet at %.3f s into the clip was rejected: ",
               av_get_media_type_string(st->codecpar->codec_type), pts / 1e6);
      first_drop_ = {code::kWrite, what + AvErrorString(ret), ret};
    }
    return;
  }
  Check(ret, "Could not write to '" + opts_.path + "'");
  packets_++;
}

MuxResult Muxer::Close() {
  if (packets_ == 0 && dropped_ > 0)
    Fail(code::kWrite, "Could not write to '" + opts_.path + "': " + first_drop_.message, first_drop_.av_code);
  Check(av_write_trailer(out_.get()), "Could not finish '" + opts_.path + "'");
  if (out_->pb && !(out_->oformat->flags & AVFMT_NOFILE))
    avr::Check(avio_closep(&out_->pb), code::kWrite, "Could not close '" + opts_.path + "'");
  out_.reset();
  MuxResult r;
  r.format = format_;
  r.packets = packets_;
  r.dropped = dropped_;
  std::error_code ec;
  r.bytes = (int64_t)std::filesystem::file_size(tmp_.path, ec);
  if (opts_.in_place) return r;
  if (std::rename(tmp_.path.c_str(), opts_.path.c_str()) != 0)
    Fail(code::kWrite, "Could not move the finished file to '" + opts_.path + "'", AVERROR(errno));
  tmp_.keep = true;
  return r;
}

}  // namespace avr
