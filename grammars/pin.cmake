# The tree-sitter-python grammar nb2pipe is built against: the npm package, pinned.
# Version 0.23.6 is the newest release with grammar ABI 14, the highest the Debian 12
# libtree-sitter (0.20.7) loads; 0.25 needs a newer core.
#
# NB_GRAMMAR_INTEGRITY is npm's Subresource Integrity string for the tarball (from
# `npm view tree-sitter-python@0.23.6 dist.integrity`); NB_GRAMMAR_SHA512 is the same
# digest in hex, which is what CMake's file(SHA512) computes:
#   echo "<base64 part>" | base64 -d | od -An -tx1 | tr -d ' \n'
# To move the pin: change all three, and check that `cmake --build` verifies it.
set(NB_GRAMMAR_PACKAGE "tree-sitter-python")
set(NB_GRAMMAR_VERSION "0.23.6")
set(NB_GRAMMAR_INTEGRITY "sha512-yIM9z0oxKIxT7bAtPOhgoVl6gTXlmlIhue7liFT4oBPF/lha7Ha4dQBS82Av6hMMRZoVnFJI8M6mL+SwWoLD3A==")
set(NB_GRAMMAR_SHA512 "c8833dcf4a31288c53edb02d3ce860a1597a8135e59a5221b9eee58854f8a013c5fe585aec76b8750052f3602fea130c459a159c5248f0cea62fe4b05a82c3dc")
