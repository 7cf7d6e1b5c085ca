# Writes OUTPUT, a C++ file defining `const char* const NAME` (in switchyard::admin) with
# the bytes of INPUT, as a raw string literal. Run with cmake -P (engine/CMakeLists.txt).
file(READ "${INPUT}" content)
string(FIND "${content}" ")embed\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )embed\"")
endif()
file(WRITE "${OUTPUT}.tmp" "// Generated from ${INPUT} by embed.cmake; do not edit.\nnamespace switchyard::admin {\nextern const char* const ${NAME};\nconst char* const ${NAME} = R\"embed(${content})embed\";\n}  // namespace switchyard::admin\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
