# Build settings shared by every target: warnings, ccache, sanitizers, helpers.

find_program(PM500_CCACHE ccache)
if(PM500_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${PM500_CCACHE}")
endif()

add_library(pm500_build_flags INTERFACE)
target_compile_options(pm500_build_flags INTERFACE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # GCC 12 at -O3 reports -Wrestrict inside libstdc++'s std::string operator+ (GCC bug 105329),
  # a false positive that -Werror would turn into a failed Release build.
  target_compile_options(pm500_build_flags INTERFACE -Wno-restrict)
endif()
# The repository root and src/ are the include roots: "cip/encap.hpp", "pipeline/ring.hpp".
target_include_directories(pm500_build_flags INTERFACE
  ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)

if(PM500_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
elseif(PM500_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT PM500_SANITIZE STREQUAL "")
  message(FATAL_ERROR "PM500_SANITIZE must be '', 'address' or 'thread', not '${PM500_SANITIZE}'")
endif()

# pm500_library(name SOURCES ... [DEPS ...]): a static library with the project's flags.
function(pm500_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_link_libraries(${name} PUBLIC pm500_build_flags ${A_DEPS})
endfunction()

# pm500_test(name SOURCES ... [DEPS ...] [LABELS ...] [TIMEOUT s]): a doctest executable
# registered with ctest. Labels: unit (fast, no servers), integration (real servers), stress.
function(pm500_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE pm500_build_flags pm500_test_main ${A_DEPS})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "PM500_SOURCE_DIR=${PROJECT_SOURCE_DIR};PM500_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# Adds every immediate sub-folder of the current folder that has a CMakeLists.txt, so a new
# module is picked up without editing its parent. pm500_add_subfolders([EXCLUDE name...])
macro(pm500_add_subfolders)
  cmake_parse_arguments(_pm500_sub "" "" "EXCLUDE" ${ARGN})
  file(GLOB _pm500_children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR}
    ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT _pm500_children)
  foreach(_child IN LISTS _pm500_children)
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${_child}
       AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${_child}/CMakeLists.txt
       AND NOT _child IN_LIST _pm500_sub_EXCLUDE)
      add_subdirectory(${_child})
    endif()
  endforeach()
endmacro()
