# Installing and packaging: `cmake --install` puts the binary, the man page and the
# copyright notes under a prefix; `cpack -G DEB` in a build directory (or
# `cmake --build --preset default --target package`) turns the same files into
# nb2pipe_<version>_<arch>.deb, whose Depends dpkg-shlibdeps computes from the shared
# libraries the binary links (tests/package_deb.py checks it).
include(GNUInstallDirs)

install(TARGETS nb2pipe RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The man page (docs/nb2pipe.1, written from --help by scripts/gen_manpage.py),
# compressed as Debian installs man pages: gzip -9n stores no name and no time, so the
# same page gives the same bytes.
set(NB_MANPAGE_GZ ${CMAKE_BINARY_DIR}/nb2pipe.1.gz)
add_custom_command(
  OUTPUT ${NB_MANPAGE_GZ}
  COMMAND sh -c "gzip -9n -c \"$0\" > \"$1\"" ${PROJECT_SOURCE_DIR}/docs/nb2pipe.1 ${NB_MANPAGE_GZ}
  DEPENDS ${PROJECT_SOURCE_DIR}/docs/nb2pipe.1
  COMMENT "Compressing the man page"
  VERBATIM)
add_custom_target(manpage ALL DEPENDS ${NB_MANPAGE_GZ})
install(FILES ${NB_MANPAGE_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# Debian wants /usr/share/doc/<package>/copyright. The binary carries the compiled
# tree-sitter-python grammar, whose MIT licence asks for its notice to travel with it.
file(READ ${NB_GRAMMAR_DIR}/LICENSE grammar_license)
file(WRITE ${CMAKE_BINARY_DIR}/copyright
  "nb2pipe ${PROJECT_VERSION}\n\n"
  "/usr/bin/nb2pipe includes the tree-sitter-python grammar ${NB_GRAMMAR_VERSION}\n"
  "(https://github.com/tree-sitter/tree-sitter-python), under this licence:\n\n"
  "${grammar_license}")
install(FILES ${CMAKE_BINARY_DIR}/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nb2pipe)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "nb2pipe maintainers <nb2pipe@example.org>")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # nb2pipe_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# generated steps run on Python; convert, clean and sync do not need it
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS python3)
# plot draws SVG, PNG and HTML with Graphviz's dot (its DOT output needs nothing)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS graphviz)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Jupyter notebooks to pipelines")
string(CONCAT CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "nb2pipe reads a notebook, finds what each cell defines and uses, splits it into\n"
  "steps and writes a pipeline: a runnable script per step, a Ploomber pipeline.yaml,\n"
  "and on request Airflow, Argo, Kubeflow Pipelines, SLURM and AWS Batch files. It\n"
  "runs pipelines locally, in parallel and incrementally, and cleans notebooks for\n"
  "git (pre-commit hooks).")
set(CPACK_STRIP_FILES ON) # Debian ships stripped binaries
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
