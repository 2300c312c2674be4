#include "encoder.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "decoder.h"
#include "errors.h"

namespace avr {

bool StreamEncoder::NeedsEncoding(const AVCodecParameters* par) {
  if (par->codec_type == AVMEDIA_TYPE_VIDEO)
    return par->codec_id == AV_CODEC_ID_RAWVIDEO || par->codec_id == AV_CODEC_ID_WRAPPED_AVFRAME;
  if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
    // PCM (the first block of audio ids, G.711 included) and the telephony ADPCMs IP cameras send:
    // mp4 cannot hold them, so they become AAC once.
    return (par->codec_id >= AV_CODEC_ID_FIRST_AUDIO && par->codec_id < AV_CODEC_ID_ADPCM_IMA_QT) ||
           par->codec_id == AV_CODEC_ID_ADPCM_G722 || par->codec_id == AV_CODEC_ID_ADPCM_G726 ||
           par->codec_id == AV_CODEC_ID_ADPCM_G726LE;
  }
  return false;
}

std::unique_ptr<StreamEncoder> StreamEncoder::Open(const AVStream* in, const EncoderOptions& opts) {
  std::unique_ptr<StreamEncoder> e(new StreamEncoder());
  e->in_tb_ = in->time_base;
  e->dec_ = OpenDecoder(in->codecpar, in->time_base, 1, code::kEncode);
  e->decoded_ = MakeFrame();
  e->converted_ = MakeFrame();
  e->out_ = MakePacket();
  if (in->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
    e->OpenVideo(in, opts);
  else
    e->OpenAudio(in, opts);
  e->par_.reset(avcodec_parameters_alloc());
  Check(avcodec_parameters_from_context(e->par_.get(), e->enc_.get()), code::kEncode, "Could not read encoder parameters");
  return e;
}

void StreamEncoder::OpenVideo(const AVStream* in, const EncoderOptions& opts) {
  const AVCodec* codec = nullptr;
  if (!opts.video_codec.empty()) {
    codec = avcodec_find_encoder_by_name(opts.video_codec.c_str());
    if (!codec) Fail(code::kEncode, "This FFmpeg has no encoder named '" + opts.video_codec + "'");
  } else {
    codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  }
  if (!codec) Fail(code::kEncode, "No video encoder available (libx264 or mjpeg)");
  enc_.reset(avcodec_alloc_context3(codec));
  AVCodecContext* c = enc_.get();
  AVRational fps = in->avg_frame_rate.num ? in->avg_frame_rate : in->r_frame_rate;
  if (!fps.num || !fps.den) fps = {25, 1};
  c->width = in->codecpar->width;
  c->height = in->codecpar->height;
  c->sample_aspect_ratio = in->codecpar->sample_aspect_ratio;
  c->time_base = in->time_base;
  c->framerate = fps;
  c->gop_size = (int)std::clamp(std::lround(av_q2d(fps) * opts.gop_seconds), 1L, 100000L);
  c->max_b_frames = 0;
  // Extradata in the header: mp4/mkv need it, and the mpegts muxer re-inserts it before keyframes.
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  Dict o;
  if (codec->id == AV_CODEC_ID_H264) {
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    o.Set("preset", opts.preset);
    o.Set("tune", "zerolatency");  // no lookahead: packets reach the ring (and saves) at once
    if (!opts.video_bitrate) o.Set("crf", "23");
  } else {
    c->pix_fmt = codec->id == AV_CODEC_ID_MJPEG ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    if (!opts.video_bitrate) {
      c->flags |= AV_CODEC_FLAG_QSCALE;
      c->global_quality = FF_QP2LAMBDA * 4;
    }
  }
  if (opts.video_bitrate) c->bit_rate = opts.video_bitrate;
  Check(avcodec_open2(c, codec, o.Addr()), code::kEncode, std::string("Could not open the ") + codec->name + " encoder");
  const auto src = (AVPixelFormat)in->codecpar->format;
  if (src != c->pix_fmt) {
    sws_.reset(sws_getContext(c->width, c->height, src, c->width, c->height, c->pix_fmt, SWS_BILINEAR, nullptr,
                              nullptr, nullptr));
    if (!sws_) Fail(code::kEncode, "Could not convert the camera's pixel format");
    converted_->format = c->pix_fmt;
    converted_->width = c->width;
    converted_->height = c->height;
    Check(av_frame_get_buffer(converted_.get(), 0), code::kEncode, "Out of memory");
  }
}

void StreamEncoder::OpenAudio(const AVStream* in, const EncoderOptions& opts) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
  if (!codec) Fail(code::kEncode, "No AAC encoder available");
  enc_.reset(avcodec_alloc_context3(codec));
  AVCodecContext* c = enc_.get();
  c->sample_fmt = AV_SAMPLE_FMT_FLTP;
  c->sample_rate = in->codecpar->sample_rate;
  if (in->codecpar->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&c->ch_layout, in->codecpar->ch_layout.nb_channels);
  else
    Check(av_channel_layout_copy(&c->ch_layout, &in->codecpar->ch_layout), code::kEncode, "Bad channel layout");
  c->bit_rate = opts.audio_bitrate;
  c->time_base = {1, c->sample_rate};
  c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  Check(avcodec_open2(c, codec, nullptr), code::kEncode, "Could not open the AAC encoder");

  SwrContext* swr = nullptr;
  AVChannelLayout in_layout = {};  // av_channel_layout_copy uninits its target first
  if (dec_->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    av_channel_layout_default(&in_layout, dec_->ch_layout.nb_channels);
  else
    Check(av_channel_layout_copy(&in_layout, &dec_->ch_layout), code::kEncode, "Bad channel layout");
  int ret = swr_alloc_set_opts2(&swr, &c->ch_layout, c->sample_fmt, c->sample_rate, &in_layout, dec_->sample_fmt,
                                dec_->sample_rate, 0, nullptr);
  av_channel_layout_uninit(&in_layout);
  swr_.reset(swr);
  Check(ret, code::kEncode, "Could not set up audio conversion");
  Check(swr_init(swr), code::kEncode, "Could not set up audio conversion");
  fifo_.reset(av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, c->frame_size * 4));
  if (!fifo_) Fail(code::kEncode, "Out of memory");
}

void StreamEncoder::SendFrame(AVFrame* frame, const Sink& sink) {
  int ret = avcodec_send_frame(enc_.get(), frame);
  if (ret < 0 && ret != AVERROR_EOF) Fail(code::kEncode, std::string("The ") + enc_->codec->name + " encoder failed", ret);
  while ((ret = avcodec_receive_packet(enc_.get(), out_.get())) >= 0) {
    sink(out_.get());
    av_packet_unref(out_.get());
  }
  if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) Fail(code::kEncode, "Encoding failed", ret);
}

void StreamEncoder::DrainFifo(bool final, const Sink& sink) {
  const int fs = enc_->frame_size;
  while (av_audio_fifo_size(fifo_.get()) >= fs || (final && av_audio_fifo_size(fifo_.get()) > 0)) {
    const int n = std::min(fs, av_audio_fifo_size(fifo_.get()));
    FramePtr f = MakeFrame();
    f->nb_samples = n;
    f->format = enc_->sample_fmt;
    f->sample_rate = enc_->sample_rate;
    Check(av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout), code::kEncode, "Bad channel layout");
    Check(av_frame_get_buffer(f.get(), 0), code::kEncode, "Out of memory");
    if (av_audio_fifo_read(fifo_.get(), (void**)f->data, n) < n) Fail(code::kEncode, "Audio FIFO underrun");
    f->pts = fifo_pts_;
    fifo_pts_ += n;
    SendFrame(f.get(), sink);
  }
}

void StreamEncoder::OnDecoded(AVFrame* frame, const Sink& sink) {
  if (enc_->codec_type == AVMEDIA_TYPE_VIDEO) {
    AVFrame* f = frame;
    if (frame->width != enc_->width || frame->height != enc_->height ||
        (!sws_ && frame->format != enc_->pix_fmt)) {
      // The encoder and converter were set up for the stream's first size: a change ends the connection.
      Fail(code::kEncode, "The raw video changed size or pixel format mid-stream");
    }
    if (sws_) {
      Check(av_frame_make_writable(converted_.get()), code::kEncode, "Out of memory");
      sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, converted_->data, converted_->linesize);
      f = converted_.get();
    }
    f->pts = frame->best_effort_timestamp;
    f->pict_type = AV_PICTURE_TYPE_NONE;
    SendFrame(f, sink);
    return;
  }
  const int64_t pts = frame->best_effort_timestamp;
  if (pts != AV_NOPTS_VALUE) Resync(av_rescale_q(pts, in_tb_, enc_->time_base), sink);
  if (fifo_pts_ == AV_NOPTS_VALUE) fifo_pts_ = 0;
  Convert((const uint8_t**)frame->extended_data, frame->nb_samples);
  DrainFifo(false, sink);
}

void StreamEncoder::Resync(int64_t pts, const Sink& sink) {
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
  if (drift > threshold && drift <= enc_->sample_rate) {
    WriteSilence(drift);  // a short hole: silence keeps the audio continuous and in place
  } else if (drift > threshold) {
    // A long hole: finish the queued samples as one frame (padded with silence), then start again at
    // the source's timestamp.
    if (queued > 0) {
      WriteSilence(enc_->frame_size - queued);
      DrainFifo(false, sink);
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

void StreamEncoder::WriteSilence(int64_t samples) {
  if (samples <= 0) return;
  uint8_t** silence = nullptr;
  Check(av_samples_alloc_array_and_samples(&silence, nullptr, enc_->ch_layout.nb_channels, (int)samples,
                                           enc_->sample_fmt, 0),
        code::kEncode, "Out of memory");
  av_samples_set_silence(silence, 0, (int)samples, enc_->ch_layout.nb_channels, enc_->sample_fmt);
  const int n = av_audio_fifo_write(fifo_.get(), (void**)silence, (int)samples);
  av_freep(&silence[0]);
  av_freep(&silence);
  Check(n, code::kEncode, "Out of memory");
}

void StreamEncoder::Convert(const uint8_t** in, int nb_samples) {
  // in == nullptr flushes what the resampler still holds.
  const int max_out = swr_get_out_samples(swr_.get(), nb_samples);
  if (max_out <= 0) return;
  uint8_t** buf = nullptr;
  Check(av_samples_alloc_array_and_samples(&buf, nullptr, enc_->ch_layout.nb_channels, max_out, enc_->sample_fmt, 0),
        code::kEncode, "Out of memory");
  int n = swr_convert(swr_.get(), buf, max_out, in, nb_samples);
  if (n > 0) {
    // Surplus samples the source repeated (see Resync) are dropped from the front.
    const int skip = (int)std::min<int64_t>(skip_, n);
    skip_ -= skip;
    const int channels = enc_->ch_layout.nb_channels;
    const int planes = av_sample_fmt_is_planar(enc_->sample_fmt) ? channels : 1;
    const int step = av_get_bytes_per_sample(enc_->sample_fmt) * (planes == 1 ? channels : 1);
    std::vector<uint8_t*> from(planes);
    for (int p = 0; p < planes; p++) from[p] = buf[p] + (size_t)skip * step;
    if (n > skip) n = av_audio_fifo_write(fifo_.get(), (void**)from.data(), n - skip);
  }
  av_freep(&buf[0]);
  av_freep(&buf);
  Check(n, code::kEncode, "Audio conversion failed");
}

void StreamEncoder::Encode(const AVPacket* in, const Sink& sink) {
  int ret = avcodec_send_packet(dec_.get(), in);
  if (ret < 0 && ret != AVERROR_EOF) Fail(code::kEncode, "Could not decode raw input", ret);
  while ((ret = avcodec_receive_frame(dec_.get(), decoded_.get())) >= 0) {
    OnDecoded(decoded_.get(), sink);
    av_frame_unref(decoded_.get());
  }
  if (ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) Fail(code::kEncode, "Could not decode raw input", ret);
  if (!in) {
    if (fifo_) {
      if (fifo_pts_ != AV_NOPTS_VALUE) Convert(nullptr, 0);  // the resampler's last samples
      DrainFifo(true, sink);
    }
    SendFrame(nullptr, sink);
  }
}

}  // namespace avr
