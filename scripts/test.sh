#!/usr/bin/env bash
# The README's second command: installs dependencies, builds, and runs the whole test suite.
#   scripts/test.sh           everything: default build (all tests), ASan+UBSan (unit tests),
#                             TSan (pipeline stress), a short fuzz run of every parser, and the
#                             packaging: the container image built and run, the .deb installed on
#                             a clean Debian 12 and its unit run under systemd, the compose stack
#                             started (packaging/test-image.sh, packaging/test-deb.sh,
#                             packaging/test-systemd.sh, packaging/test-compose.sh; root; under
#                             CI=true a missing tool fails instead of skipping)
#   scripts/test.sh --quick   the default build's tests only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh
status=0

section() { printf '\n==== %s ====\n' "$*"; }

section "build (default preset)"
scripts/build.sh default
section "tests (default preset)"
ctest --preset default -j2 || status=1

if [ $quick -eq 0 ]; then
  # The sanitizer builds compile only the tests they run (each test is a target of its name).
  section "build + unit tests under AddressSanitizer and UndefinedBehaviorSanitizer"
  cmake --preset asan >/dev/null
  mapfile -t targets < <(ctest --preset asan -L unit -N | awk '/Test +#/ {print $3}')
  cmake --build --preset asan --target "${targets[@]}"
  ctest --preset asan -L unit -j2 || status=1

  section "build + concurrency tests under ThreadSanitizer"
  cmake --preset tsan >/dev/null
  mapfile -t targets < <(ctest --preset tsan -L tsan -N | awk '/Test +#/ {print $3}')
  cmake --build --preset tsan --target "${targets[@]}"
  ctest --preset tsan -L tsan -j2 || status=1

  if [ -x scripts/fuzz.sh ]; then
    section "fuzz every parser briefly (libFuzzer)"
    scripts/fuzz.sh 15 || status=1
  fi

  section "packaging: the image built and run (podman), the .deb on a clean Debian 12 and under systemd, the compose stack"
  started=$SECONDS
  if packaging/test-image.sh; then
    packaging/test-deb.sh || status=1
    packaging/test-systemd.sh || status=1
  else
    status=1
  fi
  packaging/test-compose.sh || status=1
  echo "packaging stage: $((SECONDS - started)) s"
fi

section "result"
if [ $status -eq 0 ]; then echo "all test stages passed"; else echo "some test stage FAILED (see above)"; fi
exit $status
