#!/usr/bin/env python3
"""The man pages and the shell completions agree with the programs (ctest label docs).

What `co --help` shows, walked down every command, is the truth:
- co(1) has a block for every command, with exactly the flags and arguments of its --help and
  its summary; its GLOBAL OPTIONS hold every global flag;
- the bash completion offers, for every group, exactly its subcommands, and for every command
  every flag of its --help; the zsh completion the same (run with stand-ins for zsh's
  completion builtins);
- vermas-operations(8) names every flag of `vermas-operations --help`;
- vermas-config(5) has every section and key of config.example.toml (read here with a regex of
  its own, not build-docs.py's parser), each with its value;
- every page renders with man, without a warning.

usage: check_docs.py --co BIN --daemon BIN --out BUILD/packaging --source SRC
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message)


def run(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60, **kw)


def help_sections(text):
    """{'Options': [...lines], 'Positionals': [...], 'Subcommands': [...]} of a CLI11 help."""
    sections, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^([A-Z][a-z]+):$", line)
        if m:
            current = sections.setdefault(m.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
        elif not line.strip():
            current = None
    return sections


def entries(lines):
    """The first column of a help section: names at indent 2 (continuations are deeper)."""
    return [line[2:].split()[0] for line in lines if re.match(r"^  \S", line)]


def walk(co):
    """Every command path with its summary, flags and positionals, from --help."""
    commands, todo = {}, [[]]
    top = None
    while todo:
        path = todo.pop()
        r = run([co] + path + ["--help"])
        if r.returncode != 0:
            fail(f"co {' '.join(path)} --help exited {r.returncode}: {r.stderr}")
            continue
        sections = help_sections(r.stdout)
        flags = set()
        for entry in entries(sections.get("Options", [])):
            flags.update(n for n in entry.split(",") if n.startswith("-"))
        info = {
            "summary": r.stdout.splitlines()[0],
            "flags": flags - {"-h", "--help"},
            "positionals": entries(sections.get("Positionals", [])),
            "subs": entries(sections.get("Subcommands", [])),
        }
        if not path:
            top = info
        else:
            commands[" ".join(path)] = info
        todo += [path + [s] for s in info["subs"]]
    return top, commands


def unroff(text):
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\&", "").replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'")


def man_blocks(roff):
    """co(1)'s COMMANDS section: {path: (summary, flags, positionals)} from its roff."""
    section = roff.split(".SH COMMANDS", 1)[1].split("\n.SH ", 1)[0]
    blocks, path = {}, None
    lines = section.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^\\fBco ([a-z0-9 -]+)\\fR", line)
        if m:
            path = m.group(1).strip()
            summary = unroff(lines[i + 2]) if i + 2 < len(lines) and lines[i + 1] == ".RS 4" else ""
            blocks[path] = {"summary": summary, "flags": set(), "positionals": []}
            continue
        if path is None or line.startswith("."):
            continue
        if re.match(r"^\\fB-", line):
            blocks[path]["flags"].update(re.findall(r"\\fB(-[^\\]+)\\fR", line))
        elif re.match(r"^\\fI[A-Za-z]+\\fR$", line):
            blocks[path]["positionals"].append(re.match(r"^\\fI([A-Za-z]+)\\fR$", line).group(1))
    return blocks


def check_co_page(out, top, commands):
    with open(os.path.join(out, "man", "co.1"), encoding="utf-8") as f:
        roff = f.read()
    blocks = man_blocks(roff)
    for path, info in sorted(commands.items()):
        block = blocks.get(path)
        if block is None:
            fail(f"co(1) has no entry for 'co {path}'")
            continue
        if block["summary"] != info["summary"]:
            fail(f"co(1) 'co {path}': summary {block['summary']!r}, --help says {info['summary']!r}")
        if not info["subs"]:
            if block["flags"] != info["flags"]:
                fail(f"co(1) 'co {path}': flags {sorted(block['flags'])}, --help has {sorted(info['flags'])}")
            if block["positionals"] != info["positionals"]:
                fail(f"co(1) 'co {path}': arguments {block['positionals']}, --help has {info['positionals']}")
    for path in blocks:
        if path not in commands:
            fail(f"co(1) has 'co {path}', which co --help does not list")
    glob = roff.split(".SH GLOBAL OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    for flag in sorted(top["flags"] | {"--help"}):
        if "\\fB" + flag + "\\fR" not in glob:
            fail(f"co(1) GLOBAL OPTIONS lacks {flag}")
    print(f"co(1): {len(commands)} commands checked against --help")


def bash_cases(top, commands):
    """(words, expected candidates, exact) for every group and every command."""
    cases = [(["co", ""], set(top["subs"]), True), (["co", "-"], top["flags"] | {"--help"}, False)]
    for path, info in sorted(commands.items()):
        words = ["co"] + path.split()
        if info["subs"]:
            cases.append((words + [""], set(info["subs"]), True))
        else:
            cases.append((words + ["-"], info["flags"] | top["flags"], False))
    return cases


def check_bash(out, top, commands):
    script = os.path.join(out, "completions", "co")
    body = [f"source {script!r}"]
    cases = bash_cases(top, commands)
    for n, (words, _, _) in enumerate(cases):
        quoted = " ".join("'" + w + "'" for w in words)
        body.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _co; "
                    f"echo '### {n}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    # No co in PATH: the values a live daemon would add are not part of this check.
    r = run([shutil.which("bash"), "--norc", "-c", "\n".join(body)], env=dict(os.environ, PATH="/nonexistent"))
    if r.returncode != 0 or r.stderr:
        fail(f"bash completion: exit {r.returncode}: {r.stderr}")
    got = parse_cases(r.stdout)
    compare("bash", cases, got)
    # wo X completes as co wo X.
    r = run(["bash", "--norc", "-c", f"source {script!r}; COMP_WORDS=(wo ''); COMP_CWORD=1; _co; "
             "printf '%s\\n' \"${COMPREPLY[@]}\""])
    if set(r.stdout.split()) != set(commands["wo"]["subs"]):
        fail(f"bash completion of 'wo <TAB>': {r.stdout.split()}, expected {commands['wo']['subs']}")


def check_zsh(out, top, commands):
    if not shutil.which("zsh"):
        print("zsh completion: skipped (zsh is not installed)")
        return
    fdir = os.path.join(out, "completions")
    with open(os.path.join(fdir, "_co"), encoding="utf-8") as f:
        if f.readline().strip() != "#compdef co wo":
            fail("the zsh completion does not start with '#compdef co wo'")
    cases = bash_cases(top, commands)
    body = [
        # zsh's completion builtins as stand-ins that print what they are given.
        "compadd() { local i=${@[(i)--]}; print -rl -- \"${@[i+1,-1]}\" }",
        "_describe() { local n=${@[-1]} e; for e in ${(P)n}; do print -r -- ${e%%:*}; done }",
        "compset() { return 0 }; _files() { print -r -- FILES }; _directories() { print -r -- DIRS }",
        f"fpath=({fdir!r} $fpath); autoload -Uz _co",
    ]
    for n, (words, _, _) in enumerate(cases):
        quoted = " ".join("'" + w + "'" for w in words)
        body.append(f"words=({quoted}); CURRENT={len(words)}; print -r -- '### {n}'; _co")
    r = run(["zsh", "-f", "-c", "\n".join(body)])
    if r.returncode != 0 or r.stderr:
        fail(f"zsh completion: exit {r.returncode}: {r.stderr}")
    compare("zsh", cases, parse_cases(r.stdout))


def parse_cases(text):
    got, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^### (\d+)$", line)
        if m:
            current = got.setdefault(int(m.group(1)), set())
        elif current is not None and line:
            current.add(line)
    return got


def compare(shell, cases, got):
    bad = 0
    for n, (words, expected, exact) in enumerate(cases):
        have = got.get(n, set())
        if (exact and have != expected) or (not exact and not expected <= have):
            bad += 1
            fail(f"{shell} completion of {' '.join(words)!r}<TAB>: missing {sorted(expected - have)}"
                 + (f", extra {sorted(have - expected)}" if exact else ""))
    print(f"{shell} completion: {len(cases) - bad}/{len(cases)} cases as --help says")


def check_daemon_page(out, daemon):
    r = run([daemon, "--help"])
    flags = set()
    for entry in entries(help_sections(r.stdout).get("Options", [])):
        flags.update(n for n in entry.split(",") if n.startswith("-"))
    with open(os.path.join(out, "man", "vermas-operations.8"), encoding="utf-8") as f:
        roff = f.read()
    for flag in sorted(flags):
        if "\\fB" + flag + "\\fR" not in roff:
            fail(f"vermas-operations(8) lacks {flag} (vermas-operations --help has it)")
    print(f"vermas-operations(8): {len(flags)} flags checked against --help")


def check_config_page(out, source):
    with open(os.path.join(source, "config.example.toml"), encoding="utf-8") as f:
        example = f.read().splitlines()
    with open(os.path.join(out, "man", "vermas-config.5"), encoding="utf-8") as f:
        roff = f.read()
    # The page's sections: ".SS [name]" up to the next heading.
    page = {}
    for chunk in re.split(r"^\.S[SH] ", roff, flags=re.M)[1:]:
        title, _, body = chunk.partition("\n")
        page[unroff(title).strip().strip('"')] = unroff(body)
    section, n = None, 0
    for line in example:
        m = re.match(r"^\[([a-z0-9_.]+)\]", line)
        if m:
            section = "[" + m.group(1) + "]"
            if section not in page:
                fail(f"vermas-config(5) has no section {section}")
            continue
        m = re.match(r"^(?:# )?([a-z_][a-z0-9_]*) = (\S.*?)(?:\s+#.*)?$", line)
        if not m or section is None:
            continue
        key, value = m.group(1), m.group(2).strip()
        n += 1
        body = page.get(section, "")
        if not re.search(r"^" + re.escape(key) + r" = " + re.escape(value), body, flags=re.M):
            fail(f"vermas-config(5) {section} lacks '{key} = {value}' (config.example.toml has it)")
    print(f"vermas-config(5): {n} keys of config.example.toml checked")


def check_rendering(out):
    for page in ("co.1", "vermas-config.5", "vermas-operations.8"):
        path = os.path.join(out, "man", page)
        r = run(["man", "--warnings", "-l", path], env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
        if r.returncode != 0 or r.stderr.strip() or "NAME" not in r.stdout:
            fail(f"man -l {page}: exit {r.returncode}, warnings: {r.stderr.strip()!r}")
    print("man pages render without warnings")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--co", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    top, commands = walk(a.co)
    if len(commands) < 50:
        fail(f"the walk of co --help found only {len(commands)} commands")
    check_co_page(a.out, top, commands)
    check_bash(a.out, top, commands)
    check_zsh(a.out, top, commands)
    check_daemon_page(a.out, a.daemon)
    check_config_page(a.out, a.source)
    if shutil.which("man"):
        check_rendering(a.out)
    if failures:
        print(f"check_docs: {len(failures)} problem(s)")
        sys.exit(1)
    print("check_docs: man pages and completions agree with --help and config.example.toml")


if __name__ == "__main__":
    main()
