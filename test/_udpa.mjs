import { startUdpTs } from '/work/main/test/helpers/media.mjs';
import { spawnSync } from 'node:child_process';
const file = '/tmp/av-rewind-bench/testsrc2-1920x1080p30-300s-6M-gop2s-superfast.mp4';
const udp = await startUdpTs({ file });
const w = [];
for (let i = 0; i < 5; i++) { const t0 = Date.now(); spawnSync('ffmpeg', ['-nostdin', '-v', 'error', '-y', '-i', udp.url, '-frames:v', '1', '/tmp/fb/a.jpg']); w.push(Date.now() - t0); }
console.log(w);
await udp.stop();
