#!/usr/bin/env python3
"""Builds what the package ships beside the binaries, at build time (packaging/CMakeLists.txt):

  completions/co, completions/_co   bash and zsh completions: `co completion bash|zsh`, generated
                                    from the command table the CLI is built from
  man/co.1.gz                       packaging/man/co.1.scd.in, its @COMMANDS@ filled with the
                                    command reference from `co completion table`
  man/vermas-config.5.gz            packaging/man/vermas-config.5.scd.in, its @KEYS@ and @FACTORY@
                                    filled from config.example.toml (every section and key, with
                                    its default and its comment)
  man/vermas-operations.8.gz        packaging/man/vermas-operations.8.scd
  doc/changelog.Debian.gz           packaging/debian/changelog
  doc/changelog.gz                  CHANGELOG.md

scdoc turns each page into roff; everything is compressed as `gzip -9n` would (no name, no
time), and the pages are dated by the newest packaging/debian/changelog entry, so two builds
of one source give the same files. Processes run from argv lists, never through a shell; any
failure exits non-zero with the reason.

usage: build-docs.py --co PATH --scdoc PATH --source DIR --out DIR --version VERSION
"""
import argparse
import email.utils
import gzip
import json
import os
import re
import subprocess
import sys


def esc(text):
    """Plain text for scdoc: its markup characters escaped."""
    return re.sub(r"([\\*_`])", r"\\\1", text)


def commands_reference(table_path):
    with open(table_path, encoding="utf-8") as f:
        table = json.load(f)
    out = []
    for cmd in table["commands"]:
        path = cmd["path"]
        depth = path.count(" ")
        if cmd["group"]:
            if depth == 0:
                out += ["## " + esc(path.upper()), ""]
            out += ["*co " + esc(path) + "* _SUBCOMMAND_", "\t" + esc(cmd["summary"]), ""]
            continue
        if depth == 0:
            out += ["## " + esc(path.upper()), ""]
        synopsis = "*co " + esc(path) + "*"
        for arg in cmd["args"]:
            if arg["positional"]:
                word = "_" + esc(arg["names"][0]) + "_" + ("..." if arg["repeats"] else "")
                synopsis += " " + (word if arg["required"] else "[" + word + "]")
            elif arg["required"]:
                synopsis += " *" + esc(arg["names"][-1]) + "* _VALUE_"
        if any(not a["positional"] and not a["required"] for a in cmd["args"]):
            synopsis += " [_OPTIONS_]"
        out += [synopsis, "\t" + esc(cmd["summary"]), ""]
        for arg in cmd["args"]:
            names = ", ".join("*" + esc(n) + "*" for n in arg["names"]) if not arg["positional"] \
                else "_" + esc(arg["names"][0]) + "_"
            if arg["takes_value"] and not arg["positional"]:
                names += " _VALUE_"
            text = esc(arg["help"])
            if arg["choices"]:
                text += " (one of: " + ", ".join(esc(c) for c in arg["choices"]) + ")"
            if arg["required"]:
                text += " (required)"
            out += ["\t" + names, "\t\t" + text, ""]
    return "\n".join(out)


# A key, or a key commented out ("# key = value", one space at most: the indented lines of the
# closing notes are prose even when they hold an '=').
KEY = re.compile(r'^(# ?)?([a-z_][a-z0-9_]*)\s*=\s*(.*)$')
SECTION = re.compile(r'^\[([a-z0-9_.]+)\]\s*(.*)$')


def split_comment(rest):
    """'value   # comment' -> (value, comment), a # inside a string left alone."""
    quote = None
    for i, c in enumerate(rest):
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            return rest[:i].strip(), rest[i + 1:].strip()
    return rest.strip(), ""


def config_reference(example_path):
    """@KEYS@ and @FACTORY@ from config.example.toml."""
    with open(example_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    sections = []  # [name, [comment lines], [(key, value, commented, [comment lines])]]
    pending = []   # stand-alone comments: the notes of the next section
    trailing = []  # comments after the last key: the factory files
    last = None    # what a continuation comment belongs to (a section's or a key's comment list)
    seen_section = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            last = None
            continue
        m = SECTION.match(stripped)
        if m:
            _, comment = split_comment(m.group(2)) if m.group(2) else ("", "")
            notes = pending + ([comment] if comment else [])
            sections.append([m.group(1), notes, []])
            pending, trailing, last, seen_section = [], [], sections[-1][1], True
            continue
        if not seen_section:
            continue  # the file's own header: the man page has its own prose
        if line.startswith((" ", "\t")) and stripped.startswith("#") and last is not None:
            last.append(stripped[1:].strip())
            continue
        m = KEY.match(stripped)
        if m:
            value, comment = split_comment(m.group(3))
            entry = (m.group(2), value, bool(m.group(1)), [comment] if comment else [])
            sections[-1][2].append(entry)
            last = entry[3]
            trailing = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped[1:].strip())
            trailing.append(line[2:] if line.startswith("# ") else line[1:])
            last = None
            continue
        raise SystemExit(f"{example_path}: cannot read this line for the man page: {line!r}")
    # Comments after the last key belong to no section: the closing notes.
    keys = []
    for name, notes, entries in sections:
        keys += ["## [" + esc(name) + "]", ""]
        if notes:
            keys += [esc(" ".join(notes)), ""]
        for key, value, commented, comment in entries:
            head = "*" + esc(key) + "* = " + esc(value)
            if commented:
                head += " (commented out in the example)"
            keys += [head]
            if comment:
                keys += ["\t" + esc(" ".join(comment))]
            keys += [""]
    factory = ["```"] + [t.rstrip() for t in trailing] + ["```"] if trailing else []
    return "\n".join(keys), "\n".join(factory)


def run(argv, stdin=None, env=None):
    """stdout of argv; its stderr and exit status in the error when it fails."""
    proc = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"build-docs: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def write_if_changed(path, data):
    """Writes only what changed: an unchanged file keeps its time, and what depends on it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def gzipped(data):
    # gzip -9n: no file name, time 0.
    return gzip.compress(data, compresslevel=9, mtime=0)


def changelog_epoch(changelog):
    """The time of the newest entry of a Debian changelog (its first trailer line)."""
    with open(changelog, encoding="utf-8") as f:
        for line in f:
            if line.startswith(" -- "):
                date = line.split(">", 1)[1].strip()
                return int(email.utils.parsedate_to_datetime(date).timestamp())
    raise SystemExit(f"build-docs: {changelog}: no trailer line ( -- name <mail>  date)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--co", required=True)
    ap.add_argument("--scdoc", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--version", required=True)
    a = ap.parse_args()
    src = lambda *p: os.path.join(a.source, *p)
    out = lambda *p: os.path.join(a.out, *p)

    # The completions, from the command table.
    write_if_changed(out("completions", "co"), run([a.co, "completion", "bash"]))
    write_if_changed(out("completions", "_co"), run([a.co, "completion", "zsh"]))

    # The man pages: scdoc source (templates filled), then roff, then gzip.
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(changelog_epoch(src("packaging", "debian", "changelog"))))
    table = out("man", "co-table.json")
    write_if_changed(table, run([a.co, "completion", "table"]))

    def page(name, text):
        leftover = re.search(r"@[A-Z]+@", text)
        if leftover:
            raise SystemExit(f"build-docs: {name}: {leftover.group(0)} was not filled")
        write_if_changed(out("man", name + ".scd"), text.encode())
        roff = run([a.scdoc], stdin=text.encode(), env=env)
        write_if_changed(out("man", name), roff)
        write_if_changed(out("man", name + ".gz"), gzipped(roff))

    def template(*path):
        with open(src(*path), encoding="utf-8") as f:
            return f.read().replace("@VERSION@", a.version)

    page("co.1", template("packaging", "man", "co.1.scd.in").replace("@COMMANDS@", commands_reference(table)))
    keys, factory = config_reference(src("config.example.toml"))
    page("vermas-config.5", template("packaging", "man", "vermas-config.5.scd.in")
         .replace("@KEYS@", keys).replace("@FACTORY@", factory))
    page("vermas-operations.8", template("packaging", "man", "vermas-operations.8.scd"))

    # /usr/share/doc: the Debian changelog and the upstream one.
    for source, name in ((src("packaging", "debian", "changelog"), "changelog.Debian.gz"),
                         (src("CHANGELOG.md"), "changelog.gz")):
        with open(source, "rb") as f:
            write_if_changed(out("doc", name), gzipped(f.read()))


if __name__ == "__main__":
    main()
