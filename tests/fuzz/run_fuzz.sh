#!/usr/bin/env bash
# A short, bounded libFuzzer run of the expression parser/evaluator (part of `make test`).
# The long run is the same command with a bigger FUZZ_SECONDS (docs/performance.md).
#   tests/fuzz/run_fuzz.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
out=$2/fuzz
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$out"
bin="$out/expr_fuzz"
if [ ! -x "$bin" ] || [ -n "$(find "$src/engine/expr" "$src/tests/fuzz/expr_fuzz.cpp" -newer "$bin" -print -quit)" ]; then
  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -fno-sanitize=pointer-overflow -I "$src/engine" \
    "$src/tests/fuzz/expr_fuzz.cpp" "$src"/engine/expr/*.cpp -o "$bin"
fi
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp "$src"/tests/fuzz/corpus/expr/* "$corpus"/
# pointer-overflow is off: RapidJSON's own parser adds an offset to a null pointer
# (internal/stack.h), harmless and outside our code.
"$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=512 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
echo "expr fuzz: ${seconds}s without a crash"
