# Fragment for the postgres benchmark (bench/postgres_bench.cpp): the sink's rows/s and the
# query round trip against a throwaway local PostgreSQL server.
find_package(PostgreSQL 14 REQUIRED)
add_executable(postgres_bench ${CMAKE_CURRENT_LIST_DIR}/postgres_bench.cpp)
target_compile_definitions(postgres_bench PRIVATE SWITCHYARD_PLUGIN_DIR="${SWITCHYARD_PLUGIN_OUTPUT_DIR}")
target_include_directories(postgres_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests ${PROJECT_SOURCE_DIR}/plugins/postgres/tests)
target_link_libraries(postgres_bench PRIVATE switchyard_engine switchyard_testing PostgreSQL::PostgreSQL)
add_dependencies(postgres_bench core postgres)
