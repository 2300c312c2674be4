#include "audio_decoder.h"

#include "decoder.h"
#include "errors.h"

namespace avr {

AudioDecoder::AudioDecoder(const AVCodecParameters* par) {
  // A meter is one light thread; audio decoders barely use more.
  dec_ = OpenDecoder(par, kMicros, 1, code::kDecode);
  frame_ = MakeFrame();
  out_ = MakeFrame();
  if (!frame_ || !out_) Fail(code::kDecode, "Out of memory");
}

void AudioDecoder::Decode(const AVPacket* pkt, const Sink& sink) {
  int ret = avcodec_send_packet(dec_.get(), pkt);
  if (ret < 0 && ret != AVERROR_EOF) {
    errors_++;  // a corrupt packet: the next one decodes
    if (ret != AVERROR(EAGAIN)) return;
  }
  for (;;) {
    ret = avcodec_receive_frame(dec_.get(), frame_.get());
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
    if (ret < 0) {
      errors_++;
      break;
    }
    Emit(frame_.get(), sink);
    av_frame_unref(frame_.get());
  }
  if (!pkt) avcodec_flush_buffers(dec_.get());  // drained: ready for the next connection's packets
}

void AudioDecoder::Emit(AVFrame* f, const Sink& sink) {
  const int64_t first = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : f->pts;
  if (f->format == AV_SAMPLE_FMT_FLTP) {  // AAC, MP3, Opus decode to planar float already
    sink(reinterpret_cast<const float* const*>(f->extended_data), f->ch_layout.nb_channels, f->nb_samples, first,
         f->sample_rate);
    return;
  }
  // (Re)configure the resampler for this frame's format; the rate and layout stay the stream's own.
  if (!swr_ || swr_format_ != f->format || swr_rate_ != f->sample_rate ||
      av_channel_layout_compare(&swr_layout_, &f->ch_layout) != 0) {
    SwrContext* s = nullptr;
    Check(swr_alloc_set_opts2(&s, &f->ch_layout, AV_SAMPLE_FMT_FLTP, f->sample_rate, &f->ch_layout,
                              (AVSampleFormat)f->format, f->sample_rate, 0, nullptr),
          code::kDecode, "Could not set up the audio converter");
    swr_.reset(s);
    Check(swr_init(s), code::kDecode, "Could not set up the audio converter");
    swr_format_ = f->format;
    swr_rate_ = f->sample_rate;
    av_channel_layout_uninit(&swr_layout_);
    av_channel_layout_copy(&swr_layout_, &f->ch_layout);
  }
  av_frame_unref(out_.get());
  out_->format = AV_SAMPLE_FMT_FLTP;
  out_->sample_rate = f->sample_rate;
  av_channel_layout_copy(&out_->ch_layout, &f->ch_layout);
  out_->nb_samples = f->nb_samples;
  Check(av_frame_get_buffer(out_.get(), 0), code::kDecode, "Out of memory");
  const int n = swr_convert(swr_.get(), out_->extended_data, out_->nb_samples,
                            const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
  if (n <= 0) return;
  sink(reinterpret_cast<const float* const*>(out_->extended_data), out_->ch_layout.nb_channels, n, first, f->sample_rate);
}

}  // namespace avr
