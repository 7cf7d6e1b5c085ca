# Fragment for the expr benchmark; include() it from a CMakeLists.txt that has
# already added engine/expr (target switchyard_expr).
find_package(benchmark REQUIRED)
add_executable(expr_bench ${CMAKE_CURRENT_LIST_DIR}/expr_bench.cpp)
target_link_libraries(expr_bench PRIVATE switchyard_expr benchmark::benchmark)
target_compile_definitions(expr_bench PRIVATE
  SWITCHYARD_BENCH_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures")
