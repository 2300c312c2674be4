{
  "variables": {
    "av_libs": "libavformat libavcodec libavutil libavdevice libswresample libswscale"
  },
  "targets": [
    {
      "target_name": "av_rewind",
      "sources": [
        "native/addon.cc",
        "native/audio_decoder.cc",
        "native/audio_encoder.cc",
        "native/audio_export.cc",
        "native/audio_meter.cc",
        "native/bsf.cc",
        "native/clip.cc",
        "native/decoder.cc",
        "native/devices.cc",
        "native/encoder.cc",
        "native/file_export.cc",
        "native/footage.cc",
        "native/frame_grab.cc",
        "native/grab_worker.cc",
        "native/image.cc",
        "native/ingest.cc",
        "native/input.cc",
        "native/js_convert.cc",
        "native/media_probe.cc",
        "native/muxer.cc",
        "native/packet_ring.cc",
        "native/recorder.cc",
        "native/saves.cc",
        "native/segment_writer.cc",
        "native/snapshot.cc",
        "native/subscription.cc",
        "native/timeline.cc",
        "native/video_decoder.cc",
        "native/wall_clock.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I <(av_libs) | sed 's/-I//g')"
      ],
      "libraries": ["<!@(pkg-config --libs <(av_libs))"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CFLAGS": ["<!@(pkg-config --cflags <(av_libs))"]
      }
    }
  ]
}
