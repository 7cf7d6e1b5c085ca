#!/usr/bin/env bash
# A plugin author's path: install the SDK (and engine) into a prefix, build sdk/examples
# as a separate CMake project against it, run the example's own tests, then have the
# installed engine load the plugin and run events through it.
set -euo pipefail
src=$1
build=$2
sanitize=${3:-}  # SWITCHYARD_SANITIZE of that build, e.g. address,undefined
tmp=$(mktemp -d)
engine_pid=
cleanup() {
  if [ -n "$engine_pid" ]; then kill -9 "$engine_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/switchyard/testing.hpp"
test -f "$tmp/prefix/lib/cmake/Switchyard/SwitchyardConfig.cmake"

# A sanitizer build installs sanitized libraries: the plugin must be built the same way.
flags=()
if [ -n "$sanitize" ]; then
  flags=("-DCMAKE_CXX_FLAGS=-fsanitize=$sanitize" "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=$sanitize"
         "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=$sanitize")
fi
cmake -S "$src/sdk/examples" -B "$tmp/examples" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" "${flags[@]}" \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/examples" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
ctest --test-dir "$tmp/examples" --output-on-failure | tail -n 3

plugin="$tmp/examples/plugins/libswitchyard-stamp.so"
"$tmp/prefix/bin/switchyard" plugins check "$plugin" | tail -n 1

mkdir -p "$tmp/run/pipelines"
cat > "$tmp/run/switchyard.yaml" <<YAML
plugins: { paths: [ "$tmp/prefix/lib/switchyard/plugins", "$tmp/examples/plugins" ] }
admin: { listen: "127.0.0.1:0" }
pipelines: { dir: "$tmp/run/pipelines" }
state: { dir: "$tmp/run/state" }
YAML
cat > "$tmp/run/pipelines/stamped.yaml" <<YAML
source: { type: generate, interval: 10ms, count: 3, payload: { n: 1 } }
transforms:
  - { type: example.stamp, field: environment, value: production }
sinks:
  - { type: file, path: "$tmp/run/out.jsonl" }
YAML
"$tmp/prefix/bin/switchyard" run -c "$tmp/run/switchyard.yaml" 2>"$tmp/run/log" &
engine_pid=$!
for _ in $(seq 1 500); do
  if [ -f "$tmp/run/out.jsonl" ] && [ "$(wc -l < "$tmp/run/out.jsonl")" -ge 3 ]; then break; fi
  sleep 0.02
done
kill -TERM "$engine_pid"
wait "$engine_pid"
engine_pid=
stamped=$(grep -c '"data":{"n":1,"environment":"production"}' "$tmp/run/out.jsonl" || true)
if [ "$stamped" != 3 ]; then
  echo "expected 3 stamped events, got $stamped:"; cat "$tmp/run/out.jsonl" "$tmp/run/log"; exit 1
fi
echo "out-of-tree example plugin: built, tested, loaded and ran 3 events"
