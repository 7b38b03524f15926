#!/usr/bin/env python3
"""Builds the Debian package from this build tree and checks it as an operator gets it
(ctest label package). Steps 1-7 need no root privileges: the package is extracted, not
installed; step 8 installs it for real when run as root.

1. cpack makes the .deb (from the tree the tests ran on: no second build);
2. its contents (dpkg-deb -c): the layout of packaging/README.md, the links, the modes;
3. its control fields (dpkg-deb -f): Depends computed by dpkg-shlibdeps, an extended
   Description; its control archive: the conffile, the maintainer scripts;
4. the binaries, extracted into a throw-away root (dpkg-deb -x): co --version, wo --help,
   co help = --help, a company started and stopped with the installed co and daemon;
   hardened (PIE, full RELRO, bindnow, stack protector, fortify), stripped, dynamic;
5. the man pages found by man -w and rendered by man -l; the bash completion loaded by
   bash-completion's own loader for co and wo, and the zsh one, complete `co agent <TAB>`;
6. the maintainer scripts run against stand-ins for adduser, deb-systemd-helper, systemctl:
   the user made once, the unit enabled and never started, stopped on remove, nothing deleted
   on purge;
7. lintian, when installed: no E: line, and every other tag it reports justified in
   packaging/README.md;
8. as root, when the package is not installed already (VERMAS_PACKAGE_INSTALL=0 skips it):
   the real thing on this machine. dpkg -i, the installed co, wo, man page and completion
   from their system paths, the user, the state directory, the unit enabled and not started;
   dpkg -i again (an upgrade in place); dpkg -r (the unit masked, the conffile kept); dpkg -P
   (the conffile gone, the user and the state directory kept). What the test made that purge
   rightly keeps is then removed, so the machine is left as it was.

usage: check_package.py --build DIR --source DIR --cpack PATH --version X.Y.Z
"""
import argparse
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def check(condition, message):
    if not condition:
        fail(message)
    return condition


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def step(title):
    print(f"== {title}", flush=True)


# Every file of the package (directories aside): path -> "file" | "exec" | "link:TARGET".
LAYOUT = {
    "usr/bin/vermas-operations": "exec",
    "usr/bin/co": "exec",
    "usr/bin/wo": "link:co",
    "usr/lib/vermas-operations/vermas-demo-agent": "exec",
    "lib/systemd/system/vermas-operations.service": "file",
    "usr/lib/systemd/user/vermas-operations.service": "file",
    "etc/default/vermas-operations": "file",
    "usr/share/man/man1/co.1.gz": "file",
    "usr/share/man/man1/wo.1.gz": "link:co.1.gz",
    "usr/share/man/man5/vermas-config.5.gz": "file",
    "usr/share/man/man8/vermas-operations.8.gz": "file",
    "usr/share/bash-completion/completions/wo": "file",
    "etc/bash_completion.d/vermas-operations": "file",
    "usr/share/zsh/vendor-completions/_co": "file",
    "usr/share/doc/vermas-operations/copyright": "file",
    "usr/share/doc/vermas-operations/changelog.Debian.gz": "file",
    "usr/share/doc/vermas-operations/changelog.gz": "file",
    "usr/share/doc/vermas-operations/README.md": "file",
    "usr/share/doc/vermas-operations/config.example.toml": "file",
    "usr/share/doc/vermas-operations/ARCHITECTURE.md": "file",
    "usr/share/doc/vermas-operations/protocol.md": "file",
}


def build_package(a, work):
    step("cpack")
    r = run([a.cpack, "-G", "DEB", "--config", os.path.join(a.build, "CPackConfig.cmake"), "-B", work], timeout=300)
    if r.returncode != 0:
        fail(f"cpack exited {r.returncode}:\n{r.stdout}{r.stderr}")
        return None
    debs = glob.glob(os.path.join(work, "*.deb"))
    if not check(len(debs) == 1, f"cpack made {debs}, expected one .deb"):
        return None
    deb = debs[0]
    check(os.path.basename(deb) == f"vermas-operations_{a.version}-1_{arch()}.deb", f"package file name {deb}")
    print(f"{os.path.basename(deb)}: {os.path.getsize(deb)} bytes", flush=True)
    return deb


def arch():
    return run(["dpkg", "--print-architecture"]).stdout.strip()


def check_contents(deb):
    step("contents (dpkg-deb -c)")
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    files = {}
    for line in listing:
        # -rwxr-xr-x root/root 1919360 2026-12-07 11:45 ./usr/bin/co   /   lrwxrwxrwx ... ./usr/bin/wo -> co
        m = re.match(r"^(\S+)\s+(\S+)\s+\d+\s+\S+\s+\S+\s+\./(.*?)(?: -> (.*))?$", line)
        if not check(m, f"unreadable dpkg-deb -c line: {line!r}"):
            continue
        mode, owner, path, target = m.groups()
        check(owner == "root/root", f"/{path} is owned by {owner}, not root/root")
        if mode.startswith("d"):
            check(mode == "drwxr-xr-x", f"directory /{path} has mode {mode}")
            continue
        files[path] = "link:" + target if mode.startswith("l") else ("exec" if mode == "-rwxr-xr-x" else mode)
        if mode.startswith("-"):
            check(mode in ("-rwxr-xr-x", "-rw-r--r--"), f"/{path} has mode {mode}")
            if mode == "-rw-r--r--":
                files[path] = "file"
    for path, kind in LAYOUT.items():
        check(files.get(path) == kind, f"/{path}: expected {kind}, the package has {files.get(path, 'nothing')}")
    for path in files:
        check(path in LAYOUT, f"/{path} is in the package but not in its layout (packaging/README.md)")


def check_control(deb, work, version):
    step("control (dpkg-deb -f, -e)")
    fields = {}
    for name in ("Package", "Version", "Architecture", "Maintainer", "Section", "Priority", "Depends",
                 "Conflicts", "Installed-Size", "Description"):
        fields[name] = run(["dpkg-deb", "-f", deb, name]).stdout.rstrip("\n")
    check(fields["Package"] == "vermas-operations", f"Package: {fields['Package']}")
    check(fields["Version"] == f"{version}-1", f"Version: {fields['Version']}")
    check(fields["Architecture"] == arch(), f"Architecture: {fields['Architecture']}")
    check(fields["Section"] == "admin" and fields["Priority"] == "optional",
          f"Section/Priority: {fields['Section']}/{fields['Priority']}")
    check(re.match(r"^.+ <[^@ ]+@[^> ]+>$", fields["Maintainer"]), f"Maintainer: {fields['Maintainer']}")
    depends = [d.strip().split()[0] for d in fields["Depends"].split(",")]
    # Computed by dpkg-shlibdeps from what the binaries link, with versions; not in cpack.cmake.
    for lib in ("libc6", "libstdc++6", "libsqlite3-0"):
        check(lib in depends, f"Depends lacks {lib} (dpkg-shlibdeps should have added it): {fields['Depends']}")
    # sd_notify and SHA-256 are the daemon's own (daemon/service/sd_notify.hpp,
    # daemon/backup/sha256.hpp): libsystemd and libcrypto cost ~0.9 MiB of its resident set.
    for lib in ("libsystemd0", "libssl3"):
        check(lib not in depends, f"Depends has {lib}: something links it again: {fields['Depends']}")
    check(re.search(r"libc6 \(>= [0-9.]+\)", fields["Depends"]), f"Depends: libc6 without a version: {fields['Depends']}")
    for tool in ("adduser", "git", "tmux"):
        check(tool in depends, f"Depends lacks {tool}: {fields['Depends']}")
    # RCS's /usr/bin/co: dpkg refuses the pair before unpacking, instead of failing half-way.
    check(fields["Conflicts"] == "rcs", f"Conflicts: {fields['Conflicts']!r}, expected rcs")
    desc = fields["Description"].splitlines()
    check(len(desc) >= 5 and all(line.startswith(" ") for line in desc[1:]),
          f"Description is not extended (summary + indented paragraphs): {desc[:3]}")
    check(int(fields["Installed-Size"] or 0) > 1000, f"Installed-Size: {fields['Installed-Size']}")

    control = os.path.join(work, "control")
    run(["dpkg-deb", "-e", deb, control])
    with open(os.path.join(control, "conffiles"), encoding="utf-8") as f:
        conffiles = f.read().split()
        check(conffiles == ["/etc/default/vermas-operations", "/etc/bash_completion.d/vermas-operations"],
              f"conffiles: {conffiles}")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control, script)
        if not check(os.path.exists(path), f"no {script} in the control archive"):
            continue
        check(stat.S_IMODE(os.stat(path).st_mode) == 0o755, f"{script} is not mode 0755")
        r = run(["sh", "-n", path])
        check(r.returncode == 0, f"{script}: sh -n: {r.stderr}")
    return control


def check_binaries(root, version):
    step("installed binaries (extracted root)")
    bin_dir = os.path.join(root, "usr", "bin")
    co, wo, daemon = (os.path.join(bin_dir, n) for n in ("co", "wo", "vermas-operations"))
    r = run([co, "--version"])
    check(r.returncode == 0 and r.stdout.strip() == f"co {version}", f"co --version: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = run([daemon, "--version"])
    check(r.returncode == 0 and version in r.stdout, f"vermas-operations --version: {r.returncode} {r.stdout!r}")
    r = run([wo, "--help"])
    check(r.returncode == 0 and "Usage: co wo" in r.stdout and "transition" in r.stdout,
          f"wo --help: {r.returncode} {r.stdout[:200]!r} {r.stderr!r}")
    a, b = run([co, "help", "agent", "stop"]), run([co, "agent", "stop", "--help"])
    check(a.returncode == 0 and a.stdout == b.stdout and a.stdout, "co help agent stop differs from co agent stop --help")

    # A company run by the installed co and daemon (co starts the vermas-operations beside it).
    company = tempfile.mkdtemp(prefix="vpkg-", dir="/tmp")  # short: the socket path limit
    try:
        env = dict(os.environ, PATH=bin_dir + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        env.pop("COMPANY_ROOT", None)
        env.pop("VERMAS_SOCKET", None)
        env.pop("VERMAS_OPERATIONS_BIN", None)
        cmd = lambda *args: run([co, "--company-root", company] + list(args), env=env, timeout=60)
        r = cmd("init")
        check(r.returncode == 0, f"co init: {r.stderr}")
        r = cmd("operations", "start")
        if check(r.returncode == 0, f"co operations start with the installed daemon: {r.stdout}{r.stderr}"):
            r = cmd("ping")
            check(r.returncode == 0 and version in r.stdout, f"co ping: {r.returncode} {r.stdout!r} {r.stderr!r}")
            r = cmd("operations", "stop")
            check(r.returncode == 0, f"co operations stop: {r.stderr}")
    finally:
        pid_file = os.path.join(company, ".work", "operations.pid")
        if os.path.exists(pid_file):  # a failed stop: do not leave a daemon behind
            try:
                pid = int(open(pid_file).read().strip() or 0)
                if pid and "vermas-operations" in open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"):
                    os.kill(pid, 9)
            except (OSError, ValueError):
                pass
        shutil.rmtree(company, ignore_errors=True)

    for name in ("co", "vermas-operations"):
        path = os.path.join(bin_dir, name)
        header = run(["readelf", "-hldSW", "--dyn-syms", path]).stdout
        check(re.search(r"Type:\s+DYN", header), f"{name} is not PIE")
        check("INTERP" in header, f"{name} is not dynamically linked")
        check("GNU_RELRO" in header, f"{name} has no RELRO")
        check(re.search(r"\(FLAGS\)\s+BIND_NOW", header) or re.search(r"FLAGS_1.*NOW", header), f"{name} is not bindnow")
        check("__stack_chk_fail" in header, f"{name}: no stack protector")
        check(re.search(r"__\w+_chk\b", header.replace("__stack_chk_fail", "")), f"{name}: no fortified call")
        check(" .symtab " not in header and " .debug_info " not in header, f"{name} is not stripped")
        check(" .comment " not in header, f"{name} keeps its .comment section")
    print("binaries run, hardened and stripped", flush=True)


def check_man(root):
    step("man pages")
    man_dir = os.path.join(root, "usr", "share", "man")
    env = dict(os.environ, MANPATH=man_dir, MANWIDTH="80", MANPAGER="cat", PAGER="cat")
    for name, section in (("co", "1"), ("wo", "1"), ("vermas-operations", "8"), ("vermas-config", "5")):
        r = run(["man", "-w", section, name], env=env)
        expected = os.path.join(man_dir, f"man{section}", f"{name}.{section}.gz")
        # man -w names wo's page by its link's target, co.1.gz.
        check(r.returncode == 0 and os.path.realpath(r.stdout.strip()) == os.path.realpath(expected),
              f"man -w {section} {name}: {r.stdout.strip()!r} {r.stderr!r}")
        r = run(["man", "--warnings", "-l", expected], env=env)
        check(r.returncode == 0 and not r.stderr.strip() and "NAME" in r.stdout,
              f"man -l {expected}: exit {r.returncode}, {r.stderr.strip()!r}")
        if name == "co":
            check("co agent stop" in r.stdout and "co wo transition" in r.stdout, "man co lacks its command reference")


def bash_completes(setup, words, cword, env):
    """What bash offers for `words` (a bash array literal) at word `cword` after `setup`, by
    calling whatever function `complete -p` registered for the command, as bash does at <TAB>
    (its arguments: the command, the current word, the previous word)."""
    prog = words.split()[0]
    script = (f"{setup}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMPREPLY=(); "
              f"$(complete -p {prog} | sed -n 's/^complete -F \\([^ ]*\\) .*/\\1/p') {prog} \"${{COMP_WORDS[COMP_CWORD]}}\" "
              "\"${COMP_WORDS[COMP_CWORD-1]}\"; printf '%s\\n' \"${COMPREPLY[@]}\"")
    r = run(["bash", "--norc", "-c", script], env=env)
    return r, set(r.stdout.split())


def check_completion(root):
    step("completions")
    loader = "/usr/share/bash-completion/bash_completion"
    share = os.path.join(root, "usr", "share")
    env = dict(os.environ, PATH=os.path.join(root, "usr", "bin") + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    expected = {"list", "show", "start", "stop", "restart", "logs"}
    completions = os.path.join(share, "bash-completion", "completions")
    # co's registration at shell start, pointed at the extracted root instead of /usr/share.
    stub = os.path.join(root, "etc", "bash_completion.d", "vermas-operations")
    with open(stub, encoding="utf-8") as f:
        stub_text = f.read()
    check("/usr/share/bash-completion/completions/wo" in stub_text, f"{stub} does not read wo's completion file")
    stub_copy = os.path.join(root, "..", "stub.bash")
    with open(stub_copy, "w", encoding="utf-8") as f:
        f.write(stub_text.replace("/usr/share/bash-completion/completions", completions))
    for prog, words, cword in (("co", "co agent ''", 2), ("wo", "wo li", 1)):
        if os.path.exists(loader):
            # bash-completion sources /etc/bash_completion.d at start-up (co) and finds wo's
            # file by the command's name in XDG_DATA_DIRS, as it will in /usr/share once installed.
            setup = (f"source {loader}; source {stub_copy!r}; XDG_DATA_DIRS={share!r}; "
                     f"if [ {prog} = wo ]; then __load_completion wo || exit 3; fi")
        else:
            print(f"(bash-completion is not installed: {prog}'s file sourced directly)")
            setup = f"source {os.path.join(completions, 'wo')!r}"
        r, got = bash_completes(setup, words, cword, env)
        if prog == "co":
            check(r.returncode == 0 and expected <= got, f"bash: co agent <TAB> offered {sorted(got)} ({r.stderr.strip()})")
        else:
            check(r.returncode == 0 and got == {"list"}, f"bash: wo li<TAB> offered {sorted(got)} ({r.stderr.strip()})")
    if shutil.which("zsh"):
        fdir = os.path.join(share, "zsh", "vendor-completions")
        script = ("compadd() { local i=${@[(i)--]}; print -rl -- \"${@[i+1,-1]}\" }\n"
                  "_describe() { local n=${@[-1]} e; for e in ${(P)n}; do print -r -- ${e%%:*}; done }\n"
                  f"fpath=({fdir!r} $fpath); autoload -Uz _co; words=(co agent ''); CURRENT=3; _co")
        r = run(["zsh", "-f", "-c", script], env=env)
        got = set(r.stdout.split())
        check(r.returncode == 0 and expected <= got, f"zsh: co agent <TAB> offered {sorted(got)} ({r.stderr.strip()})")
    print("bash" + (" and zsh" if shutil.which("zsh") else "") + " complete co agent <TAB>", flush=True)


STUBS = ("adduser", "addgroup", "getent", "install", "deb-systemd-helper", "deb-systemd-invoke", "systemctl",
         "deluser", "rm")


def run_script(control, work, script, args, systemd, user_exists):
    """Runs a maintainer script with every command it may call replaced by a stand-in that
    logs its arguments; /run/systemd/system is replaced by a directory that exists or not."""
    stubs = os.path.join(work, "stubs")
    os.makedirs(stubs, exist_ok=True)
    log = os.path.join(work, "calls.log")
    open(log, "w").close()
    for name in STUBS:
        path = os.path.join(stubs, name)
        status = 0
        if name == "getent":
            status = 0 if user_exists else 2
        with open(path, "w") as f:
            f.write(f"#!/bin/sh\necho \"{name} $*\" >> {log!r}\nexit {status}\n")
        os.chmod(path, 0o755)
    probe = os.path.join(work, "run-systemd-system")
    if systemd:
        os.makedirs(probe, exist_ok=True)
    elif os.path.isdir(probe):
        os.rmdir(probe)
    with open(os.path.join(control, script), encoding="utf-8") as f:
        text = f.read()
    check("/run/systemd/system" in text or script == "postrm", f"{script} does not look for /run/systemd/system")
    copy = os.path.join(work, script)
    with open(copy, "w", encoding="utf-8") as f:
        f.write(text.replace("/run/systemd/system", probe))
    env = dict(os.environ, PATH=stubs + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
    env.pop("DPKG_ROOT", None)
    r = run(["sh", copy] + args, env=env)
    check(r.returncode == 0, f"{script} {' '.join(args)} exited {r.returncode}: {r.stderr}")
    with open(log) as f:
        return f.read().splitlines()


def check_maintainer_scripts(control, work):
    step("maintainer scripts (stand-ins for the commands they run)")
    fresh = not os.path.isdir("/var/lib/vermas-operations")
    calls = run_script(control, work, "postinst", ["configure", ""], systemd=True, user_exists=False)
    check(any(c.startswith("adduser --system") and "--group" in c and c.endswith(" vermas") for c in calls),
          f"postinst configure (new): no adduser --system --group ... vermas: {calls}")
    if fresh:
        check("install -d -o vermas -g vermas -m 0750 /var/lib/vermas-operations" in calls,
              f"postinst: /var/lib/vermas-operations not made for vermas: {calls}")
    check("deb-systemd-helper enable vermas-operations.service" in calls, f"postinst: the unit not enabled: {calls}")
    check("systemctl --system daemon-reload" in calls, f"postinst: no daemon-reload: {calls}")
    check(not any(re.search(r"\b(start|restart|reload-or-restart)\b", c) for c in calls if not c.startswith("adduser")),
          f"postinst starts the service: {calls}")
    calls = run_script(control, work, "postinst", ["configure", "0.0.9-1"], systemd=True, user_exists=True)
    check(not any(c.startswith(("adduser", "addgroup")) for c in calls), f"postinst: adduser although vermas exists: {calls}")
    calls = run_script(control, work, "postinst", ["configure", ""], systemd=False, user_exists=True)
    check(not any(c.startswith("systemctl") for c in calls), f"postinst calls systemctl without systemd: {calls}")
    calls = run_script(control, work, "prerm", ["remove"], systemd=True, user_exists=True)
    check("deb-systemd-invoke stop vermas-operations.service" in calls, f"prerm remove does not stop the unit: {calls}")
    calls = run_script(control, work, "prerm", ["upgrade", "0.1.1-1"], systemd=True, user_exists=True)
    check(not any("stop" in c for c in calls), f"prerm upgrade stops the unit: {calls}")
    calls = run_script(control, work, "postrm", ["remove"], systemd=True, user_exists=True)
    check("deb-systemd-helper mask vermas-operations.service" in calls, f"postrm remove: {calls}")
    calls = run_script(control, work, "postrm", ["purge"], systemd=True, user_exists=True)
    check("deb-systemd-helper purge vermas-operations.service" in calls, f"postrm purge: {calls}")
    check(not any(c.startswith(("deluser", "rm ")) for c in calls), f"postrm purge deletes something: {calls}")
    print("postinst, prerm, postrm behave", flush=True)


def check_lintian(deb, source):
    step("lintian")
    lintian = shutil.which("lintian")
    if not lintian:
        print("lintian is not installed: skipped (scripts/install-deps installs it)")
        return
    started = time.monotonic()
    r = run([lintian, "--display-info", "--pedantic", "--display-experimental", deb], timeout=600)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EWIPX]: ", line)]
    print("\n".join(tags) or "(no tags)")
    print(f"lintian took {time.monotonic() - started:.1f} s", flush=True)
    check(r.returncode in (0, 1, 2), f"lintian exited {r.returncode}: {r.stderr}")
    for line in tags:
        check(not line.startswith("E: "), f"lintian error: {line}")
    with open(os.path.join(source, "packaging", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    for line in tags:
        tag = line.split()[2]
        check(f"`{tag}`" in readme, f"lintian tag {tag} is not justified in packaging/README.md")


UNIT = "vermas-operations.service"
WANTS_LINK = "/etc/systemd/system/multi-user.target.wants/" + UNIT
MASK_LINK = "/etc/systemd/system/" + UNIT


def installed_status():
    """dpkg's state of the package: installed, config-files, half-installed ..., or "" when
    dpkg knows nothing of it or only that it is not installed (after a failed dpkg -i)."""
    r = run(["dpkg-query", "-W", "-f", "${db:Status-Status}", "vermas-operations"])
    state = r.stdout.strip() if r.returncode == 0 else ""
    return "" if state == "not-installed" else state


def daemon_running():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            if exe.startswith("/usr/bin/vermas-operations"):
                return True
    return False


def check_real_install(deb, version):
    step("dpkg -i on this machine (root)")
    if os.environ.get("VERMAS_PACKAGE_INSTALL") == "0":
        print("VERMAS_PACKAGE_INSTALL=0: skipped")
        return
    if os.geteuid() != 0:
        print("not root: skipped (the extracted root above stands in for it)")
        return
    if installed_status():
        print(f"vermas-operations is installed here already ({installed_status()}): skipped, so as not to touch it")
        return
    import grp
    import pwd
    had_user = run(["getent", "passwd", "vermas"]).returncode == 0
    had_group = run(["getent", "group", "vermas"]).returncode == 0
    had_state = os.path.isdir("/var/lib/vermas-operations")
    systemd_running = os.path.isdir("/run/systemd/system")
    started = time.monotonic()
    try:
        r = run(["dpkg", "-i", deb], timeout=600)
        if not check(r.returncode == 0, f"dpkg -i exited {r.returncode}:\n{r.stdout}{r.stderr}"):
            return
        check(installed_status() == "installed", f"after dpkg -i the package is {installed_status()!r}, not installed")
        print(f"dpkg -i: {time.monotonic() - started:.1f} s", flush=True)

        # The installed programs, from PATH as an operator's shell finds them.
        env = dict(os.environ, PATH="/usr/local/bin:/usr/bin:/bin", MANPAGER="cat", PAGER="cat")
        for k in ("MANPATH", "XDG_DATA_DIRS", "COMPANY_ROOT", "VERMAS_SOCKET", "VERMAS_OPERATIONS_BIN"):
            env.pop(k, None)
        r = run(["co", "--version"], env=env)
        check(r.returncode == 0 and r.stdout.strip() == f"co {version}", f"installed co --version: {r.stdout!r} {r.stderr!r}")
        check(shutil.which("co", path=env["PATH"]) == "/usr/bin/co", f"co in PATH is {shutil.which('co', path=env['PATH'])}")
        r = run(["wo", "--help"], env=env)
        check(r.returncode == 0 and "Usage: co wo" in r.stdout, f"installed wo --help: {r.returncode} {r.stderr!r}")
        r = run(["man", "-w", "co"], env=env)
        check(r.returncode == 0 and r.stdout.strip() == "/usr/share/man/man1/co.1.gz", f"man -w co: {r.stdout!r} {r.stderr!r}")
        r = run(["man", "-w", "5", "vermas-config"], env=env)
        check(r.returncode == 0 and r.stdout.strip().endswith("vermas-config.5.gz"), f"man -w 5 vermas-config: {r.stdout!r}")
        loader = "/usr/share/bash-completion/bash_completion"
        if os.path.exists(loader):
            # As an interactive shell gets it: bash_completion sources /etc/bash_completion.d, whose
            # registration for co must win over bash-completion's own file named co (RCS's).
            r, got = bash_completes(f"source {loader}", "co agent ''", 2, env)
            check(r.returncode == 0 and {"list", "start", "stop"} <= got,
                  f"installed bash completion: co agent <TAB> offered {sorted(got)} ({r.stderr.strip()})")
        if shutil.which("zsh"):
            # compinit keeps the first definition for a command in fpath order: the package's _co
            # (vendor-completions) must come before zsh's own _rcs, which claims co too.
            r = run(["zsh", "-f", "-c", "autoload -Uz compinit; compinit -u -D; print -r -- $_comps[co] $_comps[wo]"], env=env)
            check(r.returncode == 0 and r.stdout.split() == ["_co", "_co"],
                  f"installed zsh completion: co and wo complete with {r.stdout.strip()!r} ({r.stderr.strip()})")

        # What postinst did for real.
        try:
            user = pwd.getpwnam("vermas")
            check(user.pw_uid < 1000, f"vermas is not a system user (uid {user.pw_uid})")
            check(user.pw_dir == "/var/lib/vermas-operations" or had_user, f"vermas's home is {user.pw_dir}")
            check(grp.getgrgid(user.pw_gid).gr_name == "vermas", "vermas's primary group is not vermas")
        except KeyError:
            fail("dpkg -i made no vermas user")
        if not had_state:
            st = os.stat("/var/lib/vermas-operations")
            check(stat.S_IMODE(st.st_mode) == 0o750 and pwd.getpwuid(st.st_uid).pw_name == "vermas",
                  f"/var/lib/vermas-operations: mode {oct(stat.S_IMODE(st.st_mode))}, owner {st.st_uid}")
        check(os.path.realpath(WANTS_LINK) in ("/lib/systemd/system/" + UNIT, "/usr/lib/systemd/system/" + UNIT),
              f"the unit is not enabled: {WANTS_LINK} -> {os.path.realpath(WANTS_LINK) if os.path.lexists(WANTS_LINK) else 'missing'}")
        check(not daemon_running(), "dpkg -i started the daemon")
        r = run(["dpkg-query", "-W", "-f", "${Conffiles}", "vermas-operations"])
        check("/etc/default/vermas-operations" in r.stdout, f"the conffile is not registered: {r.stdout!r}")

        # The same version again: prerm upgrade, postinst configure with the old version.
        r = run(["dpkg", "-i", deb], timeout=600)
        check(r.returncode == 0 and installed_status() == "installed", f"dpkg -i again exited {r.returncode}: {r.stderr}")
        check(os.path.lexists(WANTS_LINK), "an upgrade in place lost the unit's enablement")
        check(not daemon_running(), "an upgrade in place started the daemon")

        r = run(["dpkg", "-r", "vermas-operations"], timeout=600)
        check(r.returncode == 0 and installed_status() == "config-files", f"dpkg -r exited {r.returncode} ({installed_status()}): {r.stderr}")
        check(not os.path.exists("/usr/bin/co") and not os.path.lexists("/usr/bin/wo"), "dpkg -r left /usr/bin/co or wo")
        check(os.path.exists("/etc/default/vermas-operations"), "dpkg -r removed the conffile (only purge may)")
        check(os.path.realpath(MASK_LINK) == "/dev/null", f"dpkg -r did not mask the unit: {MASK_LINK}")

        r = run(["dpkg", "-P", "vermas-operations"], timeout=600)
        check(r.returncode == 0 and installed_status() == "", f"dpkg -P exited {r.returncode} ({installed_status()}): {r.stderr}")
        check(not os.path.exists("/etc/default/vermas-operations"), "dpkg -P left the conffile")
        check(not os.path.lexists(MASK_LINK) and not os.path.lexists(WANTS_LINK), "dpkg -P left the unit masked or enabled")
        check(run(["getent", "passwd", "vermas"]).returncode == 0, "dpkg -P deleted the vermas user (it owns the company's data)")
        check(os.path.isdir("/var/lib/vermas-operations"), "dpkg -P deleted /var/lib/vermas-operations")
        print(f"installed, upgraded in place, removed and purged for real in {time.monotonic() - started:.1f} s"
              f" (systemd {'running' if systemd_running else 'not running: no daemon-reload'})", flush=True)
    finally:
        if installed_status():  # a failure half-way: take the package off again
            run(["dpkg", "-P", "vermas-operations"], timeout=600)
        # What purge keeps on purpose (the data's owner and home) was made by this test only.
        if not had_state:
            shutil.rmtree("/var/lib/vermas-operations", ignore_errors=True)
        if not had_user and run(["getent", "passwd", "vermas"]).returncode == 0:
            run(["deluser", "--system", "--quiet", "vermas"])
        if not had_group and run(["getent", "group", "vermas"]).returncode == 0:
            run(["delgroup", "--system", "--quiet", "vermas"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--cpack", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()
    work = os.path.join(os.path.abspath(a.build), "package-test")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    started = time.monotonic()
    deb = build_package(a, work)
    if deb:
        check_contents(deb)
        control = check_control(deb, work, a.version)
        root = os.path.join(work, "root")
        r = run(["dpkg-deb", "-x", deb, root])
        if check(r.returncode == 0, f"dpkg-deb -x: {r.stderr}"):
            check_binaries(root, a.version)
            check_man(root)
            check_completion(root)
        check_maintainer_scripts(control, work)
        check_lintian(deb, a.source)
        check_real_install(deb, a.version)
    print(f"check_package: {time.monotonic() - started:.1f} s", flush=True)
    if failures:
        print(f"check_package: {len(failures)} problem(s)")
        sys.exit(1)
    print("check_package: the package is complete, runs, and is lintian-clean")


if __name__ == "__main__":
    main()
