# A Debian package: cmake --build build --target package  (or: cd build && cpack -G DEB)
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "vermas-operations")
set(CPACK_PACKAGE_VENDOR "VerMAS")
set(CPACK_PACKAGE_CONTACT "VerMAS Operations <operations@vermas.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "supervisor daemon and client for a company of AI coding agents")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
# Runtime libraries the daemon links (see ../shared/notes/dependencies.md); git and tmux
# are what agents are supervised with.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libboost-filesystem1.81.0, libspdlog1.10, libfmt9, libtomlplusplus3, libsqlite3-0, libsystemd0, git, tmux")
include(CPack)
