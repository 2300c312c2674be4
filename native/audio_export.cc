#include "audio_export.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "audio_decoder.h"
#include "audio_encoder.h"
#include "errors.h"

namespace avr {

namespace {

// What MPEG audio layer III allows: MPEG-1 at 32–48 kHz, MPEG-2 at 16–24 kHz, MPEG-2.5 at 8–12 kHz.
const std::vector<int> kRates = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
const std::vector<int> kMpeg1Kbps = {32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320};
const std::vector<int> kMpeg2Kbps = {8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160};

int NearestRate(int rate) {
  return *std::min_element(kRates.begin(), kRates.end(), [rate](int a, int b) { return std::abs(a - rate) < std::abs(b - rate); });
}

std::string List(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

CodecPtr OpenMp3(int rate, int channels, const ExportSpec& spec) {
  // AV_REWIND_MP3_ENCODER names another encoder (tests use a missing one for the error path).
  const char* name = getenv("AV_REWIND_MP3_ENCODER");
  const std::string want = name && *name ? name : "libmp3lame";
  const AVCodec* codec = avcodec_find_encoder_by_name(want.c_str());
  if (!codec)
    Fail(code::kEncoderMissing, "This FFmpeg has no '" + want + "' MP3 encoder. Debian's and Ubuntu's libavcodec have it "
                                "(apt-get install libavcodec-dev pulls it in); a custom FFmpeg needs --enable-libmp3lame "
                                "(and libmp3lame-dev), then 'npm rebuild av-rewind'");
  if (spec.bitrate) {
    const std::vector<int>& allowed = rate >= 32000 ? kMpeg1Kbps : kMpeg2Kbps;
    if (spec.bitrate % 1000 || std::find(allowed.begin(), allowed.end(), spec.bitrate / 1000) == allowed.end()) {
      char kbps[32];
      snprintf(kbps, sizeof kbps, "%g", spec.bitrate / 1000.0);
      Fail(code::kInvalidArg, "MP3 at " + std::to_string(rate) + " Hz allows " + List(allowed) + " kb/s, not " + kbps);
    }
  }
  CodecPtr enc(avcodec_alloc_context3(codec));
  if (!enc) Fail(code::kEncode, "Out of memory");
  enc->sample_rate = rate;
  av_channel_layout_default(&enc->ch_layout, channels);
  enc->sample_fmt = AV_SAMPLE_FMT_FLTP;  // libmp3lame takes planar float as it comes from the decoder
  enc->time_base = {1, rate};
  if (spec.bitrate) {
    enc->bit_rate = spec.bitrate;
  } else {
    enc->flags |= AV_CODEC_FLAG_QSCALE;  // libmp3lame's VBR: -q:a 0–9, its -V
    enc->global_quality = spec.quality * FF_QP2LAMBDA;
  }
  Check(avcodec_open2(enc.get(), codec, nullptr), code::kEncode, "Could not open the " + want + " encoder");
  return enc;
}

void Progress(ExportProgress* p, int64_t t, int64_t from, int64_t bytes) {
  if (!p) return;
  if (from > INT64_MIN / 2 && t != AV_NOPTS_VALUE) p->done_us = std::max<int64_t>(p->done_us.load(), t - from);
  p->bytes = bytes;
}

bool Cancelled(const ExportSpec& s) { return s.mux.cancel && s.mux.cancel->load(); }

// Decode → keep the samples presented in [from, to) → AudioEncoder (resample, FIFO, libmp3lame) → mp3 muxer.
class Mp3Export {
 public:
  Mp3Export(const ExportSpec& spec, int64_t from, int64_t to, ExportProgress* progress)
      : spec_(spec), from_(from), to_(to), progress_(progress) {}

  ExportResult Run(const AudioPull& pull, AudioPacketIn& in) {
    do {
      if (Cancelled(spec_)) Fail(code::kAborted, "The export was aborted");
      if (in.par != par_) {
        if (dec_) dec_->Decode(nullptr, sink_);  // the previous connection's last frames
        dec_ = std::make_unique<AudioDecoder>(in.par);
        par_ = in.par;
      }
      const int64_t t = in.pkt->pts;
      if (t != AV_NOPTS_VALUE && t >= to_) {  // decoding past the end: done (decode order is presentation order)
        av_packet_unref(in.pkt);
        break;
      }
      dec_->Decode(in.pkt, sink_);
      av_packet_unref(in.pkt);
      Progress(progress_, t, from_, mux_ ? mux_->bytes() : 0);
    } while (pull(&in));
    if (dec_) dec_->Decode(nullptr, sink_);
    if (!enc_) Fail(code::kNoAudio, "No audio could be decoded in that range");
    enc_->Finish(write_);
    ExportResult r;
    r.mux = mux_->Close();
    r.codec = "mp3";
    r.sample_rate = rate_;
    r.channels = channels_;
    const int64_t samples = enc_->samples_in();
    r.start = t0_;
    r.end = t0_ + av_rescale(samples, 1'000'000, rate_);
    r.bitrate = spec_.bitrate ? spec_.bitrate : r.end > r.start ? (int64_t)(r.mux.bytes * 8e6 / (r.end - r.start)) : 0;
    if (progress_) progress_->bytes = r.mux.bytes;
    return r;
  }

 private:
  void OnSamples(const float* const* planes, int channels, int n, int64_t first_us, int rate) {
    if (!enc_) Open(channels, rate);
    if (rate != src_rate_ || channels != src_channels_)
      Fail(code::kDecode, "The audio changed from " + std::to_string(src_rate_) + " Hz, " + std::to_string(src_channels_) +
                              " channel(s) to " + std::to_string(rate) + " Hz, " + std::to_string(channels) +
                              " within the range (a reconnect to other audio): export the parts on either side separately");
    // Sample k is presented at first_us + k/rate: keep those in [from, to). Packet times are whole µs
    // (up to half a µs off the sample grid): round to the nearest sample, so a range of whole samples
    // gives exactly that many.
    const auto index = [&](int64_t t) {
      if (t <= first_us) return 0;
      return (int)std::min<int64_t>(n, std::llround((double)(t - first_us) * rate / 1e6));
    };
    const int k0 = from_ > INT64_MIN / 2 ? index(from_) : 0;
    const int k1 = to_ < INT64_MAX / 2 ? index(to_) : n;
    if (k1 <= k0) return;
    const int64_t t = first_us + (int64_t)std::llround(k0 * 1e6 / rate);
    if (t0_ == INT64_MIN) t0_ = t;
    // With fill_gaps the encoder keeps each sample at its time (a hole becomes silence); without,
    // samples just follow one another.
    const int64_t pts = spec_.fill_gaps ? (int64_t)std::llround((t - t0_) * (double)rate_ / 1e6) : AV_NOPTS_VALUE;
    std::vector<const uint8_t*> p(channels);
    for (int c = 0; c < channels; c++) p[c] = reinterpret_cast<const uint8_t*>(planes[c] + k0);
    enc_->Write(p.data(), k1 - k0, pts, write_);
  }

  void Open(int channels, int rate) {
    src_rate_ = rate;
    src_channels_ = channels;
    rate_ = spec_.sample_rate ? spec_.sample_rate : NearestRate(rate);
    channels_ = spec_.channels ? spec_.channels : std::min(channels, 2);
    CodecPtr enc = OpenMp3(rate_, channels_, spec_);
    TrackParams tp;
    tp.type = AVMEDIA_TYPE_AUDIO;
    tp.par.reset(avcodec_parameters_alloc());
    if (!tp.par) Fail(code::kEncode, "Out of memory");
    Check(avcodec_parameters_from_context(tp.par.get(), enc.get()), code::kEncode, "Could not read the encoder's parameters");
    AVChannelLayout in_layout = {};
    av_channel_layout_default(&in_layout, channels);
    enc_ = std::make_unique<AudioEncoder>(std::move(enc), AV_SAMPLE_FMT_FLTP, rate, in_layout,
                                          spec_.fill_gaps ? INT64_MAX : 0);
    av_channel_layout_uninit(&in_layout);
    std::vector<TrackParams> tracks;
    tracks.push_back(std::move(tp));
    MuxOptions mo = spec_.mux;
    mo.format = "mp3";
    mux_ = std::make_unique<Muxer>(mo, tracks);
  }

  const ExportSpec& spec_;
  const int64_t from_, to_;
  ExportProgress* progress_;
  const AVCodecParameters* par_ = nullptr;
  std::unique_ptr<AudioDecoder> dec_;
  std::unique_ptr<AudioEncoder> enc_;
  std::unique_ptr<Muxer> mux_;
  int src_rate_ = 0, src_channels_ = 0, rate_ = 0, channels_ = 0;
  int64_t t0_ = INT64_MIN;
  const AudioDecoder::Sink sink_ = [this](const float* const* planes, int channels, int n, int64_t first_us, int rate) {
    OnSamples(planes, channels, n, first_us, rate);
  };
  const PacketSink write_ = [this](AVPacket* p) {
    const AVRational tb = {1, rate_};
    const int64_t pts = av_rescale_q(p->pts, tb, kMicros), dts = av_rescale_q(p->dts, tb, kMicros);
    mux_->Write(0, PacketData::Take(p), pts, dts, av_rescale_q(p->duration, tb, kMicros));
  };
};

// Whether a container holds this codec as it is: the audio containers exports name, then libavformat's
// own answer where it has one.
bool Holds(const AVOutputFormat* of, AVCodecID id) {
  const std::string f = of->name;
  if (f == "adts") return id == AV_CODEC_ID_AAC;
  if (f == "mp3") return id == AV_CODEC_ID_MP3;
  if (f == "ogg") return id == AV_CODEC_ID_OPUS || id == AV_CODEC_ID_VORBIS || id == AV_CODEC_ID_FLAC || id == AV_CODEC_ID_SPEEX;
  if (f == "webm") return id == AV_CODEC_ID_OPUS || id == AV_CODEC_ID_VORBIS;
  return avformat_query_codec(of, id, FF_COMPLIANCE_NORMAL) != 0;
}

bool SameAudio(const AVCodecParameters* a, const AVCodecParameters* b) {
  return a->codec_id == b->codec_id && a->sample_rate == b->sample_rate &&
         a->ch_layout.nb_channels == b->ch_layout.nb_channels && a->extradata_size == b->extradata_size &&
         (!a->extradata_size || !memcmp(a->extradata, b->extradata, a->extradata_size));
}

// The packets overlapping [from, to), as they are, into a container for their codec.
ExportResult CopyExport(const AudioPull& pull, AudioPacketIn& in, int64_t from, int64_t to, const ExportSpec& spec,
                        ExportProgress* progress) {
  const AVCodecParameters* first = nullptr;
  std::unique_ptr<Muxer> mux;
  ExportResult r;
  int64_t base = 0, end = INT64_MIN;
  do {
    if (Cancelled(spec)) Fail(code::kAborted, "The export was aborted");
    AVPacket* p = in.pkt;
    const int64_t dur = std::max<int64_t>(p->duration, 0);
    if (p->pts != AV_NOPTS_VALUE && p->pts >= to) {
      av_packet_unref(p);
      break;
    }
    if (p->pts == AV_NOPTS_VALUE || p->pts + std::max<int64_t>(dur, 1) <= from) {
      av_packet_unref(p);
      continue;
    }
    if (!mux) {
      first = in.par;
      const std::string fmt = GuessMuxer(spec.mux.path, spec.mux.format);
      const char* codec = avcodec_get_name(first->codec_id);
      const AVOutputFormat* of = fmt.empty() ? nullptr : av_guess_format(fmt.c_str(), nullptr, nullptr);
      if (!of) Fail(code::kInvalidArg, "Cannot tell the container from '" + spec.mux.path + "': use .m4a, .aac, .mka, .ogg, .webm or .mp3");
      if (!Holds(of, first->codec_id))
        Fail(code::kInvalidArg, std::string("The ") + codec + " audio cannot go into " + of->long_name +
                                    " without re-encoding: AAC fits .m4a/.aac/.mka, Opus .ogg/.webm/.mka, MP3 .mp3 (or use exportMp3)");
      std::vector<TrackParams> tracks(1);
      tracks[0].type = AVMEDIA_TYPE_AUDIO;
      tracks[0].par = CopyParams(first);
      MuxOptions mo = spec.mux;
      mo.format = fmt;
      try {
        mux = std::make_unique<Muxer>(mo, tracks);
      } catch (const Exception& e) {
        if (e.failure().code != code::kWrite) throw;
        Fail(code::kWrite, std::string("The ") + codec + " audio could not go into '" + spec.mux.path + "' (" + of->name +
                               "): the muxer refused it",
             e.failure().av_code);
      }
      base = p->pts;
      r.start = p->pts;
      r.codec = codec;
      r.sample_rate = first->sample_rate;
      r.channels = first->ch_layout.nb_channels;
    } else if (in.par != first && !SameAudio(in.par, first)) {
      Fail(code::kWrite, "The audio changed codec or format within the range (a reconnect to other audio): "
                         "export the parts on either side separately");
    }
    const int64_t pts = p->pts - base, dts = (p->dts == AV_NOPTS_VALUE ? p->pts : p->dts) - base;
    end = std::max(end, p->pts + dur);
    mux->Write(0, PacketData::Take(p), pts, dts, dur);
    Progress(progress, end, from, mux->bytes());
  } while (pull(&in));
  if (!mux) Fail(code::kNoAudio, "There is no audio in that range");
  r.mux = mux->Close();
  r.end = end;
  r.bitrate = r.end > r.start ? (int64_t)(r.mux.bytes * 8e6 / (r.end - r.start)) : 0;
  if (progress) progress->bytes = r.mux.bytes;
  return r;
}

}  // namespace

ExportResult ExportRange(const RangeResult& range, int64_t from, int64_t to, const ExportSpec& spec,
                         ExportProgress* progress) {
  // The audio track: the one whose packets carry audio parameters.
  int track = -1;
  for (const RingEntry& e : range.packets) {
    if (e.session && e.track < (int)e.session->size() && (*e.session)[e.track].type == AVMEDIA_TYPE_AUDIO) {
      track = e.track;
      break;
    }
  }
  if (track < 0) Fail(code::kNoAudio, "There is no audio in that range (the source has no audio track, or it was absent then)");
  if (to <= range.oldest || from >= range.newest)
    Fail(code::kRangeNotBuffered, "The buffer holds " + std::to_string(range.oldest / 1e6) + " s to " +
                                      std::to_string(range.newest / 1e6) + " s of the timeline");
  size_t i = 0;
  AudioPull pull = [&](AudioPacketIn* in) {
    for (; i < range.packets.size(); i++) {
      const RingEntry& e = range.packets[i];
      if (e.track != track || !e.session || !(*e.session)[track].par) continue;
      e.pkt.Fill(in->pkt);
      in->pkt->pts = e.pts;
      in->pkt->dts = e.dts;
      in->pkt->duration = e.duration;
      in->par = (*e.session)[track].par.get();
      i++;
      return true;
    }
    return false;
  };
  return ExportAudio(pull, std::max(from, range.oldest), std::min(to, range.newest), spec, progress);
}

ExportResult ExportAudio(const AudioPull& pull, int64_t from, int64_t to, const ExportSpec& spec,
                         ExportProgress* progress) {
  if (progress && from > INT64_MIN / 2 && to < INT64_MAX / 2) progress->total_us = to - from;
  PacketPtr pkt = MakePacket();
  if (!pkt) Fail(code::kEncode, "Out of memory");
  AudioPacketIn in;
  in.pkt = pkt.get();
  if (!pull(&in)) Fail(code::kNoAudio, "There is no audio in that range");
  if (spec.mp3) return Mp3Export(spec, from, to, progress).Run(pull, in);
  return CopyExport(pull, in, from, to, spec, progress);
}

}  // namespace avr
