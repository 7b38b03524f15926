# CPack runs this after installing into its staging tree and before making the .deb
# (CPACK_PRE_BUILD_SCRIPTS): a package without one of these files is an error, not a
# smaller package. The list is packaging/README.md's table.
set(root "${CPACK_TEMPORARY_DIRECTORY}")
if(NOT IS_DIRECTORY "${root}")
  message(FATAL_ERROR "check-package: no staging directory (CPACK_TEMPORARY_DIRECTORY='${root}')")
endif()

set(expected
  usr/bin/vermas-operations
  usr/bin/co
  usr/bin/wo
  usr/lib/vermas-operations/vermas-demo-agent
  lib/systemd/system/vermas-operations.service
  usr/lib/systemd/user/vermas-operations.service
  etc/default/vermas-operations
  usr/share/man/man1/co.1.gz
  usr/share/man/man1/wo.1.gz
  usr/share/man/man5/vermas-config.5.gz
  usr/share/man/man8/vermas-operations.8.gz
  usr/share/bash-completion/completions/wo
  etc/bash_completion.d/vermas-operations
  usr/share/zsh/vendor-completions/_co
  usr/share/doc/vermas-operations/copyright
  usr/share/doc/vermas-operations/changelog.Debian.gz
  usr/share/doc/vermas-operations/changelog.gz
  usr/share/doc/vermas-operations/README.md
  usr/share/doc/vermas-operations/config.example.toml)
set(missing "")
foreach(f IN LISTS expected)
  if(NOT EXISTS "${root}/${f}")  # EXISTS follows links: a dangling one is missing too
    list(APPEND missing "/${f}")
  endif()
endforeach()
if(missing)
  list(JOIN missing "\n  " text)
  message(FATAL_ERROR "check-package: the package would lack:\n  ${text}\n"
                      "(the man pages and completions need -DVERMAS_DOCS=ON and a build: cmake --build first)")
endif()

# Nothing outside the layout, e.g. under /usr/local (a destination the prefix did not reach).
file(GLOB_RECURSE all RELATIVE "${root}" LIST_DIRECTORIES false "${root}/*")
foreach(f IN LISTS all)
  if(NOT f MATCHES "^(usr/(bin|lib|share)|lib/systemd|etc/default|etc/bash_completion.d)/")
    message(FATAL_ERROR "check-package: /${f} is outside the package's layout")
  endif()
endforeach()

foreach(link usr/bin/wo usr/share/man/man1/wo.1.gz)
  if(NOT IS_SYMLINK "${root}/${link}")
    message(FATAL_ERROR "check-package: /${link} should be a link")
  endif()
endforeach()
list(LENGTH expected n)
message(STATUS "check-package: the ${n} files of the layout are in place")
