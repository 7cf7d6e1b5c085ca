#!/usr/bin/env bash
# A short, bounded libFuzzer run of one parser (part of `make test`). The long run is the
# same command with a bigger FUZZ_SECONDS (docs/performance.md).
#   tests/fuzz/run_fuzz.sh SOURCE_DIR BUILD_DIR TARGET
# TARGET: expr (the expression parser/evaluator), json (webhook payload parsing,
# differential against RapidJSON alone) or yaml (configuration files: YAML to JSON with
# positions and interpolation) or http (request framing on the shared listener: Beast's
# parser as the session configures it, and the checks before routing) or event_log (the
# journal's event log read back after whatever a crash or a disk left in its segments).
set -euo pipefail
src=$1
out=$2/fuzz
target=${3:-expr}
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
bin="$out/${target}_fuzz"
flags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -fno-sanitize=pointer-overflow)
case "$target" in
  expr)
    inputs=("$src/engine/expr" "$src/sdk/include/switchyard/result.hpp" "$src/tests/fuzz/expr_fuzz.cpp")
    build() { clang++ "${flags[@]}" -I "$src/engine" -I "$src/sdk/include" "$src/tests/fuzz/expr_fuzz.cpp" "$src"/engine/expr/*.cpp -o "$bin"; }
    max_len=512 ;;
  json)
    inputs=("$src/plugins/common" "$src/sdk/include/switchyard/result.hpp" "$src/tests/fuzz/json_fuzz.cpp")
    # Without RAPIDJSON_SSE2: its scan reads aligned blocks past the terminator by design,
    # which AddressSanitizer would report on every input.
    extra=()
    # Fuzz the simdjson path when the build has it (the engine then uses it too).
    if [ -f /usr/include/simdjson.h ]; then extra+=(-DSWITCHYARD_HAVE_SIMDJSON -lsimdjson); fi
    build() { clang++ "${flags[@]}" -I "$src/plugins" -I "$src/sdk/include" "$src/tests/fuzz/json_fuzz.cpp" \
                "$src/plugins/common/json_limits.cpp" "${extra[@]}" -o "$bin"; }
    max_len=16384 ;;
  yaml)
    inputs=("$src/engine/config/yaml_json.cpp" "$src/engine/config/interpolate.cpp" "$src/engine/config/diagnostics.hpp" "$src/sdk/include/switchyard/result.hpp" "$src/tests/fuzz/yaml_fuzz.cpp")
    build() { clang++ "${flags[@]}" -I "$src/engine" -I "$src/sdk/include" "$src/tests/fuzz/yaml_fuzz.cpp" \
                "$src/engine/config/yaml_json.cpp" "$src/engine/config/interpolate.cpp" -lyaml-cpp -o "$bin"; }
    max_len=4096 ;;
  http)
    inputs=("$src/engine/http/request_head.hpp" "$src/tests/fuzz/http_fuzz.cpp")
    # NDEBUG as the engine is built: Beast's parser has an internal assertion (n >= 5 in
    # parse_chunk_header, basic_parser.ipp) that a client can reach with a final chunk split
    # across reads; compiled out, as in the engine, the parser goes on safely (AddressSanitizer
    # finds no bad access on that input: corpus/http/beast_final_chunk_assert). The target fuzzes
    # what ships.
    build() { clang++ "${flags[@]}" -DNDEBUG -I "$src/engine" "$src/tests/fuzz/http_fuzz.cpp" -o "$bin"; }
    max_len=4096 ;;
  event_log)
    inputs=("$src/engine/journal/event_log.cpp" "$src/engine/journal/event_log_open.cpp" "$src/engine/journal/event_log.hpp"
            "$src/engine/journal/event_log_parts.hpp" "$src/engine/journal/crc32c.cpp" "$src/engine/journal/crc32c.hpp"
            "$src/tests/fuzz/event_log_fuzz.cpp")
    build() { clang++ "${flags[@]}" -I "$src/engine" -I "$src/sdk/include" "$src/tests/fuzz/event_log_fuzz.cpp" \
                "$src/engine/journal/event_log.cpp" "$src/engine/journal/event_log_open.cpp" \
                "$src/engine/journal/crc32c.cpp" -lsqlite3 -o "$bin"; }
    max_len=8192 ;;
  *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac
inputs+=("$0")  # a change of the build flags here rebuilds too
if [ ! -x "$bin" ] || [ -n "$(find "${inputs[@]}" -newer "$bin" -print -quit)" ]; then
  build
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$src/tests/fuzz/corpus/$target"/* "$corpus"/
# pointer-overflow is off: RapidJSON's own parser adds an offset to a null pointer
# (internal/stack.h), harmless and outside our code.
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
echo "$target fuzz: ${seconds}s without a crash or a difference"
