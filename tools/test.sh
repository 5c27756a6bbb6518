#!/bin/bash
# test.sh - the whole suite (make test): every test in build/, then every
# suite but the real-Linux boots (suite "linux") again under ASan+UBSan
# (build-asan/; the test guest is built with its own flags there too). Tests exit 77 to
# skip and print the reason as their last output line. Failed tests are listed
# by name with their last output line; the last line printed
# is "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN=${ASAN_BUILD:-build-asan}
export XVM_SRC=$PWD

[ -f "$ASAN/build.ninja" ] ||
    meson setup "$ASAN" -Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
    { echo "xvm: cannot configure $ASAN"; exit 1; }
meson configure "$ASAN" -Dguest=true >/dev/null   # trees made before the guest ran there
ninja -C "$BUILD" >/dev/null || { ninja -C "$BUILD"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
ninja -C "$ASAN" >/dev/null || { ninja -C "$ASAN"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
meson test -C "$BUILD" --no-rebuild --print-errorlogs --num-processes 2 "$@"
# everything again under ASan+UBSan but the slow real-Linux boots
meson test -C "$ASAN" --no-rebuild --print-errorlogs --num-processes 2 --no-suite linux "$@"

python3 - "$BUILD/meson-logs/testlog.json" "$ASAN/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
skipped = []
failed = []
for path, tag in zip(sys.argv[1:], ("", " [asan]")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
            out = (t.get("stdout") or "").strip().splitlines()
            skipped.append("%s%s: %s" % (t["name"], tag, out[-1] if out else "no reason given"))
        else:
            f += 1
            out = (t.get("stdout") or "").strip().splitlines()
            failed.append("%s%s (%s): %s" % (t["name"], tag, r,
                          out[-1] if out else "no output"))
for line in skipped:
    print("skipped:", line)
for line in failed:
    print("FAILED:", line)
print("%d passed, %d failed, %d skipped" % (p, f, s))
sys.exit(1 if f else 0)
PY
