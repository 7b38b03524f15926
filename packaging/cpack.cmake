# The Debian package: cmake --build build --target package  (or: cpack in the build tree).
# packaging/README.md says what is in it and why; its install rules are in
# packaging/CMakeLists.txt. Any error fails the build of the package (check-package.cmake runs
# before it is made and fails it when something is missing).
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "vermas-operations")
set(CPACK_PACKAGE_VENDOR "VerMAS")
set(CPACK_PACKAGE_CONTACT "VerMAS Operations <operations@vermas.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "supervisor daemon and client for a company of AI coding agents")
# The extended description: CPack indents it and turns empty lines into " .".
set(CPACK_PACKAGE_DESCRIPTION [[
VerMAS Operations keeps a company of AI coding agents alive, honest and
within budget. The daemon, vermas-operations, starts each agent from an argv
array in its own process group (directly or in a tmux session), restarts
what crashes with backoff and a start limit, notices idle and stuck agents,
dispatches work orders into worker slots with their own git worktrees (saving
the work before any reap), and records every change as an event in SQLite.
Budgets, approvals, loop detection and alerts keep spending and churn in
check.

The client, co (also invoked as wo), talks JSON-RPC 2.0 to the daemon over a
Unix socket: agents, factories, work orders, mail, costs, backups and
reports, with --json output everywhere, man pages and bash and zsh
completions.

The package runs the daemon as the vermas system user under systemd
(Type=notify, watchdog, reload) once COMPANY_ROOT is set in
/etc/default/vermas-operations; a user unit is included too.]])
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# Install with DESTDIR into the staging tree: the system unit (/lib/systemd/system) and
# /etc/default are absolute destinations, which would otherwise go to the build machine's /.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX "/usr")
# Release binaries stripped (debug info dropped, not shipped: no -dbgsym package).
set(CPACK_STRIP_FILES ON)
# Depends computed by dpkg-shlibdeps from what the binaries link (libc6, libstdc++6,
# libboost-filesystem, libspdlog, libfmt, libsqlite3 ...). Written by
# hand only what is run, not linked: git and tmux for the agents, adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, git, tmux")
# RCS installs /usr/bin/co too, a different program under the same name (Debian policy 10.1):
# the two cannot be installed together, and dpkg says so before unpacking anything.
set(CPACK_DEBIAN_PACKAGE_CONFLICTS "rcs")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/debian/postinst
    ${CMAKE_CURRENT_LIST_DIR}/debian/prerm
    ${CMAKE_CURRENT_LIST_DIR}/debian/postrm
    ${CMAKE_CURRENT_LIST_DIR}/debian/conffiles)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Before the .deb is made: everything packaging/README.md lists is in the staging tree.
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/check-package.cmake)
set(CPACK_VERMAS_SOURCE_DIR ${CMAKE_SOURCE_DIR})
set(CPACK_VERMAS_FULL_VERSION "${PROJECT_VERSION}-1")

# The Debian changelog's newest entry names this version.
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/debian/changelog vermas_changelog_top LIMIT_COUNT 1)
if(NOT vermas_changelog_top MATCHES "^vermas-operations \\(${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}\\) ")
  message(FATAL_ERROR "packaging/debian/changelog starts with '${vermas_changelog_top}': add an entry for "
                      "${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE} (the package's version)")
endif()

include(CPack)
