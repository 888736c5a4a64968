#!/usr/bin/env bash
# The README's second command: installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh           everything: default build (all tests), ASan+UBSan (unit tests),
#                             TSan (pipeline stress), a short fuzz run of every parser
#   scripts/test.sh --quick   the default build's tests only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}
status=0

section() { printf '\n==== %s ====\n' "$*"; }

section "build (default preset)"
scripts/build.sh default
section "tests (default preset)"
ctest --preset default -j2 || status=1

if [ $quick -eq 0 ]; then
  section "build + unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  scripts/build.sh asan
  ctest --preset asan -L unit -j2 || status=1

  section "build + concurrency tests under ThreadSanitizer"
  scripts/build.sh tsan
  ctest --preset tsan -L tsan -j2 || status=1

  if [ -x scripts/fuzz.sh ]; then
    section "fuzz every parser briefly (libFuzzer)"
    scripts/fuzz.sh 15 || status=1
  fi
fi

section "result"
if [ $status -eq 0 ]; then echo "all test stages passed"; else echo "some test stage FAILED (see above)"; fi
exit $status
