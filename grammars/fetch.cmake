# Obtain the pinned tree-sitter-python grammar (grammars/pin.cmake) without committing
# any of its sources: `npm pack` downloads the published tarball, we check its sha512
# against the pin, and extract only src/ into the build directory.
#
# Used two ways:
#   include(grammars/fetch.cmake); nb_grammar_fetch(<dest dir>)   -- from CMakeLists.txt
#   cmake -DTARBALL=<file> [-DSHA512=<hex>] -P grammars/fetch.cmake -- verify one file
#                                                                     (used by a test)
include("${CMAKE_CURRENT_LIST_DIR}/pin.cmake")

# Stops with a clear message unless FILE's sha512 equals EXPECTED.
function(nb_grammar_verify file expected)
  file(SHA512 "${file}" actual)
  if(NOT actual STREQUAL expected)
    message(FATAL_ERROR
      "checksum mismatch for ${file}\n"
      "  expected sha512 ${expected}\n"
      "  actual   sha512 ${actual}\n"
      "The tarball is not the pinned ${NB_GRAMMAR_PACKAGE} ${NB_GRAMMAR_VERSION} "
      "(corrupt download, or the registry served something else). Delete it and "
      "configure again; if it persists, do not build: report it.")
  endif()
endfunction()

# The tarball is cached outside the build tree so that several build directories
# (plain, sanitizer, fuzz) download it once. NB2PIPE_CACHE overrides the location.
function(nb_grammar_cache_dir out)
  if(DEFINED ENV{NB2PIPE_CACHE})
    set(dir "$ENV{NB2PIPE_CACHE}")
  elseif(DEFINED ENV{XDG_CACHE_HOME})
    set(dir "$ENV{XDG_CACHE_HOME}/nb2pipe")
  elseif(DEFINED ENV{HOME})
    set(dir "$ENV{HOME}/.cache/nb2pipe")
  else()
    set(dir "${CMAKE_BINARY_DIR}/grammar-cache")
  endif()
  set(${out} "${dir}" PARENT_SCOPE)
endfunction()

# Sets OUT to TRUE when the tarball is not cached yet and there is no npm to fetch it.
function(nb_grammar_needs_npm out)
  nb_grammar_cache_dir(cache)
  set(${out} FALSE PARENT_SCOPE)
  if(NOT EXISTS "${cache}/${NB_GRAMMAR_PACKAGE}-${NB_GRAMMAR_VERSION}.tgz")
    find_program(NPM npm)
    if(NOT NPM)
      set(${out} TRUE PARENT_SCOPE)
    endif()
  endif()
endfunction()

# Makes DEST/src/parser.c, DEST/src/scanner.c and DEST/src/tree_sitter/*.h exist,
# verified against the pin.
function(nb_grammar_fetch dest)
  set(name "${NB_GRAMMAR_PACKAGE}-${NB_GRAMMAR_VERSION}.tgz")
  nb_grammar_cache_dir(cache)
  set(tarball "${cache}/${name}")
  # for the test that checks a corrupted tarball is refused
  set(NB_GRAMMAR_TARBALL "${tarball}" CACHE INTERNAL "the pinned grammar's tarball")
  set(stamp "${dest}/.verified-${NB_GRAMMAR_SHA512}")
  if(EXISTS "${stamp}" AND EXISTS "${dest}/src/parser.c")
    return()
  endif()
  file(MAKE_DIRECTORY "${cache}")
  if(NOT EXISTS "${tarball}")
    find_program(NPM npm)
    if(NOT NPM)
      message(FATAL_ERROR
        "npm not found: it is needed once to fetch ${NB_GRAMMAR_PACKAGE} ${NB_GRAMMAR_VERSION} "
        "(apt-get install npm), or put ${name} in ${cache}")
    endif()
    message(STATUS "Fetching ${NB_GRAMMAR_PACKAGE}@${NB_GRAMMAR_VERSION} with npm pack")
    execute_process(
      COMMAND "${NPM}" pack "${NB_GRAMMAR_PACKAGE}@${NB_GRAMMAR_VERSION}"
              --pack-destination "${cache}" --silent
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${tarball}")
      message(FATAL_ERROR "npm pack ${NB_GRAMMAR_PACKAGE}@${NB_GRAMMAR_VERSION} failed (${rc}): ${err}")
    endif()
  endif()
  nb_grammar_verify("${tarball}" "${NB_GRAMMAR_SHA512}")
  file(REMOVE_RECURSE "${dest}")
  file(MAKE_DIRECTORY "${dest}")
  file(ARCHIVE_EXTRACT INPUT "${tarball}" DESTINATION "${dest}"
       PATTERNS "package/src/parser.c" "package/src/scanner.c" "package/src/tree_sitter/*"
                "package/LICENSE")
  file(RENAME "${dest}/package/src" "${dest}/src")
  file(RENAME "${dest}/package/LICENSE" "${dest}/LICENSE")
  file(REMOVE_RECURSE "${dest}/package")
  file(TOUCH "${stamp}")
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  if(NOT DEFINED TARBALL)
    message(FATAL_ERROR "usage: cmake -DTARBALL=<file> [-DSHA512=<hex>] -P fetch.cmake")
  endif()
  if(NOT DEFINED SHA512)
    set(SHA512 "${NB_GRAMMAR_SHA512}")
  endif()
  nb_grammar_verify("${TARBALL}" "${SHA512}")
  message(STATUS "${TARBALL}: sha512 matches the pin")
endif()
