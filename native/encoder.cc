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
  Check(avcodec_parameters_from_context(e->par_.get(), e->codec()), code::kEncode, "Could not read encoder parameters");
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
  c->thread_count = opts.threads;
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
  // Holes up to 1 s become silence; after a longer one audio starts again at the source's pts.
  audio_ = std::make_unique<AudioEncoder>(std::move(enc_), dec_->sample_fmt, dec_->sample_rate, dec_->ch_layout,
                                          c->sample_rate);
}

void StreamEncoder::OnDecoded(AVFrame* frame, const Sink& sink) {
  if (!audio_) {  // video
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
    EncodeFrame(enc_.get(), f, out_.get(), sink);
    return;
  }
  const int64_t pts = frame->best_effort_timestamp;
  audio_->Write(frame->extended_data, frame->nb_samples,
                pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(pts, in_tb_, audio_->codec()->time_base), sink);
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
    if (audio_)
      audio_->Finish(sink);
    else
      EncodeFrame(enc_.get(), nullptr, out_.get(), sink);
  }
}

}  // namespace avr
