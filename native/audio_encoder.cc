#include "audio_encoder.h"

#include <algorithm>
#include <string>
#include <vector>

#include "errors.h"

namespace avr {

void EncodeFrame(AVCodecContext* enc, const AVFrame* frame, AVPacket* scratch, const PacketSink& sink) {
  int ret = avcodec_send_frame(enc, frame);
  if (ret < 0 && ret != AVERROR_EOF) Fail(code::kEncode, std::string("The ") + enc->codec->name + " encoder failed", ret);
  while ((ret = avcodec_receive_packet(enc, scratch)) >= 0) {
    sink(scratch);
    av_packet_unref(scratch);
  }
  if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) Fail(code::kEncode, "Encoding failed", ret);
}

AudioEncoder::AudioEncoder(CodecPtr enc, AVSampleFormat in_format, int in_rate, const AVChannelLayout& layout,
                           int64_t max_fill)
    : enc_(std::move(enc)), max_fill_(max_fill) {
  AVCodecContext* c = enc_.get();
  SwrContext* swr = nullptr;
  AVChannelLayout in_layout = {};  // av_channel_layout_copy uninits its target first
  if (layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&in_layout, layout.nb_channels);
  else
    Check(av_channel_layout_copy(&in_layout, &layout), code::kEncode, "Bad channel layout");
  const int ret = swr_alloc_set_opts2(&swr, &c->ch_layout, c->sample_fmt, c->sample_rate, &in_layout, in_format,
                                      in_rate, 0, nullptr);
  av_channel_layout_uninit(&in_layout);
  swr_.reset(swr);
  Check(ret, code::kEncode, "Could not set up audio conversion");
  Check(swr_init(swr), code::kEncode, "Could not set up audio conversion");
  fifo_.reset(av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, std::max(c->frame_size, 1024) * 4));
  pkt_ = MakePacket();
  if (!fifo_ || !pkt_) Fail(code::kEncode, "Out of memory");
}

void AudioEncoder::Drain(bool final, const PacketSink& sink) {
  const int fs = enc_->frame_size > 0 ? enc_->frame_size : 1024;
  while (av_audio_fifo_size(fifo_.get()) >= fs || (final && av_audio_fifo_size(fifo_.get()) > 0)) {
    const int n = std::min(fs, av_audio_fifo_size(fifo_.get()));
    FramePtr f = MakeFrame();
    if (!f) Fail(code::kEncode, "Out of memory");
    f->nb_samples = n;
    f->format = enc_->sample_fmt;
    f->sample_rate = enc_->sample_rate;
    Check(av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout), code::kEncode, "Bad channel layout");
    Check(av_frame_get_buffer(f.get(), 0), code::kEncode, "Out of memory");
    if (av_audio_fifo_read(fifo_.get(), (void**)f->data, n) < n) Fail(code::kEncode, "Audio FIFO underrun");
    f->pts = fifo_pts_;
    fifo_pts_ += n;
    EncodeFrame(enc_.get(), f.get(), pkt_.get(), sink);
  }
}

void AudioEncoder::Write(const uint8_t* const* data, int nb_samples, int64_t pts, const PacketSink& sink) {
  if (pts != AV_NOPTS_VALUE) Resync(pts, sink);
  if (fifo_pts_ == AV_NOPTS_VALUE) fifo_pts_ = 0;
  Convert(data, nb_samples);
  Drain(false, sink);
}

void AudioEncoder::Resync(int64_t pts, const PacketSink& sink) {
  const int64_t delay = swr_get_delay(swr_.get(), enc_->sample_rate);  // samples inside the resampler
  if (fifo_pts_ == AV_NOPTS_VALUE) {
    fifo_pts_ = pts - delay;
    return;
  }
  // Where the next converted sample lands if every sample so far was on time. Device clocks drift and
  // drop samples (xruns); counting samples alone would let that accumulate into A/V desync over hours.
  // Small differences are timestamp jitter: keep counting. Past a threshold, follow the source, without
  // ever moving a timestamp back over audio already queued or encoded.
  const int queued = av_audio_fifo_size(fifo_.get());
  const int64_t drift = pts - (fifo_pts_ + queued + delay);
  const int64_t threshold = std::max<int64_t>(enc_->frame_size, enc_->sample_rate / 25);  // ≥ 40 ms
  if (drift > threshold && drift <= max_fill_) {
    WriteSilence(drift);  // a hole: silence keeps the audio continuous and in place
  } else if (drift > threshold) {
    // A longer hole: finish the queued samples as one frame (padded with silence), then start again at
    // the source's timestamp.
    if (queued > 0) {
      WriteSilence(std::max(enc_->frame_size, 1) - queued);
      Drain(false, sink);
    }
    fifo_pts_ = pts - delay;
  } else if (drift < -threshold && -drift <= 10LL * enc_->sample_rate) {
    skip_ += -drift;  // the source repeats that much time (the device ran fast): drop it from what comes
  } else if (drift < -threshold) {
    // A jump back of more than 10 s is a new timeline, not surplus samples: follow it (the recorder's
    // timeline treats it as a discontinuity).
    fifo_pts_ = pts - delay - queued;
    skip_ = 0;
  }
}

void AudioEncoder::WriteSilence(int64_t samples) {
  if (samples <= 0) return;
  if (fifo_pts_ == AV_NOPTS_VALUE) fifo_pts_ = 0;
  const int channels = enc_->ch_layout.nb_channels;
  // In pieces of at most a second: an hour of silence is not one allocation.
  const int64_t piece = std::max(1, enc_->sample_rate);
  uint8_t** silence = nullptr;
  Check(av_samples_alloc_array_and_samples(&silence, nullptr, channels, (int)std::min(samples, piece), enc_->sample_fmt, 0),
        code::kEncode, "Out of memory");
  av_samples_set_silence(silence, 0, (int)std::min(samples, piece), channels, enc_->sample_fmt);
  int ret = 0;
  for (int64_t left = samples; left > 0 && ret >= 0; left -= piece) {
    ret = av_audio_fifo_write(fifo_.get(), (void**)silence, (int)std::min(left, piece));
  }
  av_freep(&silence[0]);
  av_freep(&silence);
  Check(ret, code::kEncode, "Out of memory");
  samples_in_ += samples;
}

void AudioEncoder::Convert(const uint8_t* const* in, int nb_samples) {
  // in == nullptr flushes what the resampler still holds.
  const int max_out = swr_get_out_samples(swr_.get(), nb_samples);
  if (max_out <= 0) return;
  uint8_t** buf = nullptr;
  Check(av_samples_alloc_array_and_samples(&buf, nullptr, enc_->ch_layout.nb_channels, max_out, enc_->sample_fmt, 0),
        code::kEncode, "Out of memory");
  int n = swr_convert(swr_.get(), buf, max_out, const_cast<const uint8_t**>(in), nb_samples);
  if (n > 0) {
    // Surplus samples the source repeated (see Resync) are dropped from the front.
    const int skip = (int)std::min<int64_t>(skip_, n);
    skip_ -= skip;
    const int channels = enc_->ch_layout.nb_channels;
    const int planes = av_sample_fmt_is_planar(enc_->sample_fmt) ? channels : 1;
    const int step = av_get_bytes_per_sample(enc_->sample_fmt) * (planes == 1 ? channels : 1);
    std::vector<uint8_t*> from(planes);
    for (int p = 0; p < planes; p++) from[p] = buf[p] + (size_t)skip * step;
    if (n > skip) {
      n = av_audio_fifo_write(fifo_.get(), (void**)from.data(), n - skip);
      if (n > 0) samples_in_ += n;
    }
  }
  av_freep(&buf[0]);
  av_freep(&buf);
  Check(n, code::kEncode, "Audio conversion failed");
}

void AudioEncoder::Finish(const PacketSink& sink) {
  if (fifo_pts_ != AV_NOPTS_VALUE) Convert(nullptr, 0);  // the resampler's last samples
  Drain(true, sink);
  EncodeFrame(enc_.get(), nullptr, pkt_.get(), sink);
}

}  // namespace avr
