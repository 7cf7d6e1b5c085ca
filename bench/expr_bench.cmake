# Fragment for the expr and payload benchmarks; include() it from a CMakeLists.txt that has
# already added engine/expr (target switchyard_expr).
find_package(benchmark REQUIRED)
add_executable(expr_bench ${CMAKE_CURRENT_LIST_DIR}/expr_bench.cpp)
target_link_libraries(expr_bench PRIVATE switchyard_expr benchmark::benchmark)
target_compile_definitions(expr_bench PRIVATE
  SWITCHYARD_BENCH_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures")

# A webhook payload at the source: parsed into a tree, or checked and deferred (payload_bench.cpp).
add_executable(payload_bench ${CMAKE_CURRENT_LIST_DIR}/payload_bench.cpp ${PROJECT_SOURCE_DIR}/plugins/github/github_event.cpp)
target_link_libraries(payload_bench PRIVATE switchyard_plugin_common benchmark::benchmark)
target_compile_definitions(payload_bench PRIVATE
  SWITCHYARD_BENCH_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures")
