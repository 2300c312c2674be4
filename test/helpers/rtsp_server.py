#!/usr/bin/python3
"""Live RTSP test server for the av-rewind tests (run with /usr/bin/python3: it needs `gi`).

  rtsp_server.py PORT [any|tcp|udp]

Serves a live H.264 + AAC test pattern at rtsp://127.0.0.1:PORT/test. The optional
transport restricts what the server accepts, to test a client's RTP/TCP vs RTP/UDP choice.
Prints "READY <url> audio=<codec>" once listening, and exits when stdin closes so it can
never outlive the Node process that started it.
"""
import os
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

Gst.init(None)
port = sys.argv[1]
transport = sys.argv[2] if len(sys.argv) > 2 else 'any'


def audio_branch():
    # AAC like a real camera (voaacenc: plugins-bad, avenc_aac: gstreamer1.0-libav);
    # Opus as a last resort, which ffmpeg demuxes from RTP too.
    for enc in ('voaacenc', 'avenc_aac'):
        if Gst.ElementFactory.find(enc):
            return f'{enc} bitrate=128000 ! rtpmp4gpay name=pay1 pt=97', 'aac'
    return 'opusenc ! rtpopuspay name=pay1 pt=97', 'opus'


audio, audio_codec = audio_branch()
launch = (
    '( videotestsrc is-live=true pattern=smpte '
    '! video/x-raw,width=320,height=240,framerate=25/1 '
    # zerolatency: no B-frames/lookahead, like a camera. config-interval=1 resends SPS/PPS
    # every second (= every IDR here) for clients joining mid-stream. Not -1: that inserts
    # them after x264's SEI, which ffmpeg's parser splits into an extra packet with the same dts.
    '! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 '
    '! rtph264pay name=pay0 pt=96 config-interval=1 '
    'audiotestsrc is-live=true wave=sine freq=440 '
    '! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 '
    f'! {audio} )'
)

factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
factory.set_shared(True)  # one live pipeline for all clients, like a camera
if transport == 'tcp':
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)
elif transport == 'udp':
    factory.set_protocols(GstRtsp.RTSPLowerTrans.UDP)

server = GstRtspServer.RTSPServer()
server.set_address('127.0.0.1')
server.set_service(port)
server.get_mount_points().add_factory('/test', factory)
if not server.attach(None):  # attach() binds + listens; 0 means the port is unavailable
    print(f'cannot listen on 127.0.0.1:{port}', file=sys.stderr, flush=True)
    sys.exit(1)

loop = GLib.MainLoop()


def on_stdin(fd, _cond):
    if not os.read(fd, 4096):  # EOF: parent is gone
        loop.quit()
        return False
    return True


GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_stdin)
print(f'READY rtsp://127.0.0.1:{port}/test audio={audio_codec}', flush=True)
loop.run()
