include(GoogleTest)

# tessera_target_defaults(<target>): the language level and warnings every Tessera target uses.
# Set per target (not through global variables) so imported targets are unaffected.
function(tessera_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_20)
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# tessera_service_allocator(<executable>): links tcmalloc (gperftools) in place of glibc malloc.
# Profiles of the request paths showed 20 % of the services' CPU in glibc's malloc/free across
# HTTP worker threads; tcmalloc's per-thread caches cut CPU per request by 25-30 % (bench/README.md).
function(tessera_service_allocator target)
  target_link_libraries(${target} PRIVATE PkgConfig::TCMALLOC)
endfunction()

# tessera_add_gtest(<name> LABEL <unit|integration> SOURCES ... LIBS ...): one GoogleTest
# executable registered with ctest under the given label.
function(tessera_add_gtest name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  tessera_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  # One ctest entry per test case, so failures and timings show per behaviour.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABEL}" TIMEOUT ${ARG_TIMEOUT})
endfunction()

# tessera_embed_text(<target> <file> <symbol>): makes <file> available to <target>'s sources as
# #include "<file-stem>_<ext>.h" (e.g. redeem.lua -> redeem_lua.h) declaring
# tessera::embedded::<symbol>. Rebuilt when the file changes.
function(tessera_embed_text target file symbol)
  get_filename_component(abs "${file}" ABSOLUTE)
  get_filename_component(stem "${file}" NAME_WE)
  get_filename_component(ext "${file}" LAST_EXT)
  string(SUBSTRING "${ext}" 1 -1 ext)
  set(out_dir "${CMAKE_CURRENT_BINARY_DIR}/embedded")
  set(out "${out_dir}/${stem}_${ext}.h")
  add_custom_command(OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${out_dir}"
    COMMAND ${CMAKE_COMMAND} -DINPUT=${abs} -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS "${abs}" ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding ${file}")
  target_sources(${target} PRIVATE "${out}")
  target_include_directories(${target} PRIVATE "${out_dir}")
endfunction()

# tessera_embed_lua(<target> <name>...): embeds lua/<name>.lua of the current directory as
# tessera::embedded::k<Name>Lua (snake_case becomes PascalCase: inbox_read -> kInboxReadLua).
function(tessera_embed_lua target)
  foreach(script ${ARGN})
    string(REPLACE "_" ";" parts ${script})
    set(symbol "k")
    foreach(p ${parts})
      string(SUBSTRING ${p} 0 1 first)
      string(TOUPPER ${first} first)
      string(SUBSTRING ${p} 1 -1 rest)
      string(APPEND symbol "${first}${rest}")
    endforeach()
    tessera_embed_text(${target} lua/${script}.lua ${symbol}Lua)
  endforeach()
endfunction()
