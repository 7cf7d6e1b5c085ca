# switchyard_add_plugin(<name> SOURCES <file>... [LIBRARIES <lib>...])
#
# Builds a Switchyard plugin: a shared library named libswitchyard-<name>.so exporting the
# entry point declared with SWITCHYARD_PLUGIN(). Symbols are hidden except that entry
# point, so plugins cannot clash with each other or with the engine.
# SWITCHYARD_PLUGIN_OUTPUT_DIR, when set, is where the library is written.
function(switchyard_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "switchyard_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Switchyard::sdk ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    OUTPUT_NAME "switchyard-${name}"
    PREFIX "lib"
    CXX_STANDARD 20
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(SWITCHYARD_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${SWITCHYARD_PLUGIN_OUTPUT_DIR})
  endif()
  if(SWITCHYARD_PLUGIN_INSTALL_DIR)
    install(TARGETS ${name} LIBRARY DESTINATION ${SWITCHYARD_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
