#!/usr/bin/env bash
# Runs the test suite against the ASan + UBSan build from CMake (npm run build:asan).
# Leak reports are filtered to those that involve av-rewind or libav: Node itself keeps
# allocations alive at exit by design.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f build-asan/Debug/av_rewind.node ] || npm run build:asan
node test/prepare.mjs
log=$(mktemp -d)/asan
export AV_REWIND_BINDING=build-asan/Debug/av_rewind.node
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=1:log_path=$log:abort_on_error=0:fast_unwind_on_malloc=0"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$log"
export LSAN_OPTIONS="exitcode=0:suppressions=$PWD/test/lsan.supp"
# Instrumented code runs several times slower: the tests' wall-clock budgets (not their checks) grow by this factor.
export AV_REWIND_TEST_SLOW="${AV_REWIND_TEST_SLOW:-4}"
node test/run.mjs "${1:-\\.test\\.mjs$}"
rc=$?
unset LD_PRELOAD
reports=$(ls "$log".* 2>/dev/null || true)
bad=0
for f in $reports; do
  # Reports of the ffmpeg/ffprobe children the tests spawn (they inherit LD_PRELOAD) are not ours.
  if grep -qE "in main \(/usr/bin/(ffmpeg|ffprobe)" "$f"; then continue; fi
  # ASan errors and UBSan findings always count; leaks only when our code or libav is on the stack.
  if grep -q -E "ERROR: AddressSanitizer|runtime error:" "$f"; then bad=1; cat "$f"; fi
  if grep -q "LeakSanitizer" "$f"; then
    # (V8's own heap, allocated while our code called into it, is Node's to keep.)
    awk -v RS= '/(Direct|Indirect) leak/ && /(av_rewind|libav|libsw|avr::)/ && !/v8::internal::/' "$f" > "$f.ours"
    if [ -s "$f.ours" ]; then bad=1; echo "== leaks involving av-rewind or libav in $f"; head -c 20000 "$f.ours"; fi
  fi
done
echo "sanitizers: $( [ $bad = 0 ] && echo clean || echo FINDINGS ) (${reports:+$(echo $reports | wc -w) report files})"
[ $rc = 0 ] && [ $bad = 0 ]
