# Turns a text file into a C source defining `const char NAME[]` (NUL-terminated) and
# `const size_t NAME_len`, so that files nb2pipe writes verbatim (the step runtime)
# stay readable files in the repository.
#   cmake -DINPUT=<file> -DOUTPUT=<file.c> -DNAME=<symbol> -P cmake/embed.cmake
file(READ "${INPUT}" content HEX)
string(LENGTH "${content}" hex_length)
math(EXPR length "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${content}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
  "/* Generated from ${INPUT} by cmake/embed.cmake. */\n"
  "#include <stddef.h>\n"
  "const char ${NAME}[] = {\n${bytes}0x00};\n"
  "const size_t ${NAME}_len = ${length};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
