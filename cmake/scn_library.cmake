# scn_add_library(NAME DIR [DEPS ...])
#   Builds every *.cpp below DIR (except *_test.cpp) into static library NAME,
#   with the repository root as include root. Tests beside the sources
#   (foo_test.cpp next to foo.cpp, LevelDB style) are gathered per folder into
#   one doctest executable `test_<folder path>` registered with CTest.
set(SCN_TEST_MAIN ${CMAKE_SOURCE_DIR}/tests/doctest_main.cpp)

function(scn_add_library NAME DIR)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS;EXCLUDE" ${ARGN})
  file(GLOB_RECURSE _srcs CONFIGURE_DEPENDS ${DIR}/*.cpp)
  list(FILTER _srcs EXCLUDE REGEX "_test\\.cpp$")
  foreach(_ex IN LISTS ARG_EXCLUDE)
    list(FILTER _srcs EXCLUDE REGEX "${_ex}")
  endforeach()
  # Kernels built per instruction set and chosen at run time (cpuid):
  # foo_avx2.cpp, foo_avx512.cpp and foo_amx.cpp get their ISA flags, nothing else does.
  foreach(_s IN LISTS _srcs)
    if(_s MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${_s} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16;-mavxvnni;-mavx2;-mfma;-mf16c;-mbmi2")
    elseif(_s MATCHES "_amx\\.cpp$")  # AMX tiles + the AVX-512 set (Sapphire Rapids)
      set_source_files_properties(${_s} PROPERTIES COMPILE_OPTIONS
        "-mamx-tile;-mamx-int8;-mamx-bf16;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16;-mavx2;-mfma;-mf16c;-mbmi2")
    elseif(_s MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${_s} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c;-mbmi2")
    endif()
  endforeach()
  if(_srcs)
    add_library(${NAME} STATIC ${_srcs})
    target_include_directories(${NAME} PUBLIC ${CMAKE_SOURCE_DIR})
    target_link_libraries(${NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  else()  # a folder whose sources are still to come: headers only
    add_library(${NAME} INTERFACE)
    target_include_directories(${NAME} INTERFACE ${CMAKE_SOURCE_DIR})
    target_link_libraries(${NAME} INTERFACE ${ARG_DEPS} ${ARG_PRIVATE_DEPS})
  endif()

  if(SCN_TESTS)
    file(GLOB_RECURSE _tests CONFIGURE_DEPENDS ${DIR}/*_test.cpp)
    foreach(_ex IN LISTS ARG_EXCLUDE)
      list(FILTER _tests EXCLUDE REGEX "${_ex}")
    endforeach()
    set(_dirs "")
    foreach(_t IN LISTS _tests)
      get_filename_component(_d ${_t} DIRECTORY)
      list(APPEND _dirs ${_d})
    endforeach()
    list(REMOVE_DUPLICATES _dirs)
    foreach(_d IN LISTS _dirs)
      file(RELATIVE_PATH _rel ${CMAKE_SOURCE_DIR} ${_d})
      string(REPLACE "/" "_" _tname "test_${_rel}")
      string(REPLACE "-" "_" _tname "${_tname}")
      file(GLOB _tsrcs CONFIGURE_DEPENDS ${_d}/*_test.cpp)
      add_executable(${_tname} ${_tsrcs} ${SCN_TEST_MAIN})
      target_link_libraries(${_tname} PRIVATE ${NAME} ${ARG_DEPS} ${ARG_PRIVATE_DEPS} scn_testing)
      add_test(NAME ${_tname} COMMAND ${_tname})
      set_tests_properties(${_tname} PROPERTIES
        ENVIRONMENT "SCN_SHARED_DIR=${SCN_SHARED_DIR};SCN_SOURCE_DIR=${CMAKE_SOURCE_DIR};SCN_BINARY=${CMAKE_BINARY_DIR}/scn")
    endforeach()
  endif()
endfunction()
