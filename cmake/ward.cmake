# Helpers shared by every part's CMakeLists.txt.

# Which parts each part may link (../shared/DESIGN.md, "What each part owns, and may use").
# Arrows point down only: a part that links something outside its row fails at configure time.
set(WARD_ALLOWED_common "")
set(WARD_ALLOWED_engine common)
set(WARD_ALLOWED_deid common)
set(WARD_ALLOWED_interop common)
set(WARD_ALLOWED_knowledge common)
set(WARD_ALLOWED_llm engine common)
set(WARD_ALLOWED_safety deid common)
set(WARD_ALLOWED_audit common)
set(WARD_ALLOWED_assist common engine deid interop knowledge llm safety audit)
set(WARD_ALLOWED_server common engine deid interop knowledge llm safety audit assist)
set(WARD_ALLOWED_cli common engine deid interop knowledge llm safety audit assist server)

# ward_add_part(NAME <part> SOURCES ... [PARTS <ward parts>] [LIBS <external libs>])
# Defines the static library ward_<part>. Headers live beside sources and are included as
# "<part>/<file>.h" from the src/ root.
function(ward_add_part)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;PARTS;LIBS" ${ARGN})
  foreach(dep IN LISTS ARG_PARTS)
    if(NOT dep IN_LIST WARD_ALLOWED_${ARG_NAME})
      message(FATAL_ERROR "part '${ARG_NAME}' may not use part '${dep}' (see docs/architecture.md)")
    endif()
  endforeach()
  add_library(ward_${ARG_NAME} STATIC ${ARG_SOURCES})
  target_include_directories(ward_${ARG_NAME} PUBLIC "${CMAKE_SOURCE_DIR}/src")
  set(part_targets "")
  foreach(dep IN LISTS ARG_PARTS)
    list(APPEND part_targets ward_${dep})
  endforeach()
  target_link_libraries(ward_${ARG_NAME} PUBLIC ${part_targets} ${ARG_LIBS})
endfunction()

# ward_add_test(PART <part> SOURCES ... [LIBS ...] [LABELS ...])
# One GoogleTest binary per part (<part>_tests), every test labelled with the part's name so
# `ctest -L <part>` runs one part. Tests find the shared data through WARD_SHARED_DATA and the
# source tree through WARD_SOURCE_DIR (both also overridable by environment variables).
function(ward_add_test)
  cmake_parse_arguments(ARG "" "PART;NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_NAME)
    set(ARG_NAME ${ARG_PART}_tests)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_compile_definitions(${ARG_NAME} PRIVATE
    WARD_SHARED_DATA="${WARD_SHARED_DATA}"
    WARD_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    WARD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_PART};${ARG_LABELS}"
    WORKING_DIRECTORY "${CMAKE_BINARY_DIR}")
endfunction()

# ward_add_fuzzer(NAME <name> SOURCE <file> LIBS ... [CORPUS <dir>])
# Always builds <name>_replay: the fuzz entry point driven over every file of the seed corpus,
# registered in ctest (label "fuzz"), so the corpus runs under any compiler and any sanitizer.
# With WARD_FUZZ (clang-14) also builds <name>_fuzzer, the libFuzzer executable.
function(ward_add_fuzzer)
  cmake_parse_arguments(ARG "" "NAME;SOURCE;CORPUS" "LIBS" ${ARGN})
  if(NOT ARG_CORPUS)
    set(ARG_CORPUS "${CMAKE_SOURCE_DIR}/fuzz/corpus/${ARG_NAME}")
  endif()
  add_executable(${ARG_NAME}_replay ${ARG_SOURCE} "${CMAKE_SOURCE_DIR}/fuzz/replay_main.cpp")
  target_link_libraries(${ARG_NAME}_replay PRIVATE ${ARG_LIBS})
  target_compile_definitions(${ARG_NAME}_replay PRIVATE WARD_SHARED_DATA="${WARD_SHARED_DATA}")
  add_test(NAME fuzz_replay.${ARG_NAME} COMMAND ${ARG_NAME}_replay "${ARG_CORPUS}")
  set_tests_properties(fuzz_replay.${ARG_NAME} PROPERTIES LABELS "fuzz")
  if(WARD_FUZZ)
    add_executable(${ARG_NAME}_fuzzer ${ARG_SOURCE})
    target_link_libraries(${ARG_NAME}_fuzzer PRIVATE ${ARG_LIBS})
    target_compile_definitions(${ARG_NAME}_fuzzer PRIVATE WARD_SHARED_DATA="${WARD_SHARED_DATA}")
    target_link_options(${ARG_NAME}_fuzzer PRIVATE -fsanitize=fuzzer)
  endif()
endfunction()

# ward_add_bench(NAME <name> SOURCES ... LIBS ...)
function(ward_add_bench)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} benchmark::benchmark)
  target_compile_definitions(${ARG_NAME} PRIVATE
    WARD_SHARED_DATA="${WARD_SHARED_DATA}" WARD_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endfunction()

# ward_embed_text(OUTPUT <var> NAMESPACE <c++ namespace> FILES <symbol>=<path> ...)
# Compiles text files into the library: writes one generated source in the current binary
# directory defining `const std::string_view <symbol>` in <namespace> for each file (paths
# relative to the current source directory), regenerated whenever a file changes, and sets
# <var> to its path. The files must not contain the raw-string delimiter )wardtext".
function(ward_embed_text)
  cmake_parse_arguments(ARG "" "OUTPUT;NAMESPACE" "FILES" ${ARGN})
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded_text.cpp")
  file(RELATIVE_PATH here "${CMAKE_SOURCE_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}")
  set(content "// Generated by ward_embed_text (cmake/ward.cmake) from ${here}. Do not edit.\n")
  string(APPEND content "#include <string_view>\n")
  # Some files are longer than the 64 KiB literal C++ guarantees; GCC and Clang take any length.
  string(APPEND content "#pragma GCC diagnostic ignored \"-Woverlength-strings\"\n")
  string(APPEND content "namespace ${ARG_NAMESPACE} {\n")
  foreach(entry IN LISTS ARG_FILES)
    string(REPLACE "=" ";" pair "${entry}")
    list(GET pair 0 symbol)
    list(GET pair 1 file)
    set(path "${CMAKE_CURRENT_SOURCE_DIR}/${file}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${path}")
    file(READ "${path}" text)
    string(APPEND content "extern const std::string_view ${symbol};\n")
    string(APPEND content "const std::string_view ${symbol} = R\"wardtext(${text})wardtext\";\n")
  endforeach()
  string(APPEND content "}  // namespace ${ARG_NAMESPACE}\n")
  file(CONFIGURE OUTPUT "${out}" CONTENT "${content}" @ONLY)
  set(${ARG_OUTPUT} "${out}" PARENT_SCOPE)
endfunction()
