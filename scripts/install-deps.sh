#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need. Idempotent: apt-get
# runs only when a package is missing. Debian bookworm; run as root (or with sudo).
#   install-deps.sh            what `make test` needs (build and tests)
#   install-deps.sh --build    what compiling needs, without the servers, browser and fuzzing
#                              toolchain only the tests use (`make run`, the Dockerfile's build stage)
#   install-deps.sh --runtime  only what an installed tree needs to run: the shared libraries
#                              the binary and the plugins link, CA certificates (the
#                              Dockerfile's final stage; tests/e2e/dockerfile.test.mjs checks
#                              it against the libraries the build links)
#   ... --print                prints the packages of that mode, one a line; installs nothing
set -euo pipefail
mode=""
print=false
for arg in "$@"; do
  case "$arg" in
    --build|--runtime) mode="$arg" ;;
    --print) print=true ;;
    *) echo "usage: $0 [--build|--runtime] [--print]" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libboost1.81-dev
  libyaml-cpp-dev rapidjson-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev libsqlite3-dev openssl ca-certificates libsodium-dev
  prometheus-cpp-dev libjemalloc-dev libsimdjson-dev
  prometheus  # test-only: a real server scrapes /metrics, promtool checks the format
  libpq-dev  # runtime: the postgres sink and postgres.query (libpq 15, pipeline mode)
  postgresql  # test-only: the postgres tests run initdb and a throwaway server
  clang libclang-rt-14-dev
  chromium  # test-only: the e2e console test drives it with playwright-core
  libcurl4-openssl-dev  # runtime: the smtp sink's SMTP client (libcurl with OpenSSL)
  python3-aiosmtpd  # test-only: the real SMTP server the smtp e2e tests and bench/smtp_send.sh start
  libnats-dev  # runtime: the nats sink and source (the NATS C client 3.4, with JetStream)
  nats-server  # test-only: the NATS tests and bench/nats_scale.sh run a 3-node JetStream cluster
)

# Packages of the list above that only tests, benchmarks and fuzzing use (--build leaves them out).
test_only=(libgtest-dev libgmock-dev libbenchmark-dev prometheus postgresql clang libclang-rt-14-dev
           chromium python3-aiosmtpd nats-server)
# What the installed binary and plugins load (ldd), beyond libc6, libstdc++6 and libgcc-s1,
# which every Debian image has.
runtime=(
  ca-certificates  # runtime: outbound TLS verifies against the system store
  libssl3 libsqlite3-0 libyaml-cpp0.7 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0
  libsodium23 libjemalloc2 libsimdjson14
  libpq5  # runtime: postgres plugin
  libcurl4  # runtime: smtp plugin
  libnats3.4  # runtime: nats plugin
)

case "$mode" in
  --runtime) packages=("${runtime[@]}") ;;
  --build)
    kept=()
    for p in "${packages[@]}"; do
      [[ " ${test_only[*]} " == *" $p "* ]] || kept+=("$p")
    done
    packages=("${kept[@]}")
    ;;
  *)
    # The end-to-end tests run in Node (node --test) with packages from npm; use the
    # machine's Node.js when it has one, else Debian's.
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
      packages+=(nodejs npm)
    fi
    ;;
esac

if $print; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
