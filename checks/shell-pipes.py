#!/usr/bin/env python3
"""Fails on a pipe whose reader may stop before its writer is done.

Our scripts run with `set -o pipefail`. A reader that exits at its first match or line
(`grep -q`, `grep -m1`, `grep ... >/dev/null`, which GNU grep treats like -q, `head`,
`awk '... exit'`, `sed '...q'`) leaves a writer that still has lines to write to die of
SIGPIPE, and the pipe's status is then a failure. Whether the writer had written its last
line before the reader left depends on the scheduler: `ldd BINARY | grep -m1 libhiredis`
failed 35 times in 300 on this 2-core machine under load, and once in CI. So the rule is
that a pipe's reader reads to the end: capture the output first (`out=$(cmd)`, then
`grep -q X <<<"$out"`), or use a reader that reads it all (`sed -n 1p` for `head -n 1`).

usage: checks/shell-pipes.py FILE...   (prints each finding as FILE:LINE: reason)
"""
import re
import shlex
import sys

STOPS_EARLY_GREP = re.compile(r"^-[A-Za-z]*[qlmL]|^--(quiet|silent|max-count|files-with(out)?-match)")
SED_QUIT = re.compile(r"(^|[;{}\s0-9$/])[qQ]\s*[0-9]*\s*($|[;}])")


HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")


def logical_lines(text):
    """Yields (first line number, text) with backslash-continued lines joined and
    here-documents left out: their lines are data (a script written for elsewhere)."""
    start, parts, ends = None, [], []
    for number, line in enumerate(text.splitlines(), 1):
        if ends:
            strip, word = ends[0]
            if (line.lstrip("\t") if strip else line) == word:
                ends.pop(0)
            continue
        ends = [(bool(m.group(1)), m.group(3)) for m in HEREDOC.finditer(line.replace("<<<", "   "))]
        if start is None:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        yield start, " ".join(parts)
        start, parts = None, []
    if parts:
        yield start, " ".join(parts)


def pipe_readers(line):
    """The text after each unquoted single `|` (not `||`), up to the next operator.

    A `$(...)` opens a new level, inside double quotes too, so pipes in a command
    substitution within a message are read as well."""
    readers = []
    stack = [{"quote": None, "reader": None}]  # one level per open $( ... )
    i = 0
    while i < len(line):
        c, level = line[i], stack[-1]
        quote = level["quote"]
        if quote == "'":
            if c == "'":
                level["quote"] = None
        elif c == "\\":
            i += 1
        elif line.startswith("$(", i) and not line.startswith("$((", i):
            stack.append({"quote": None, "reader": None})
            i += 2
            continue
        elif quote == '"':
            if c == '"':
                level["quote"] = None
        elif c in "'\"":
            level["quote"] = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t;"):
            break
        elif line.startswith("||", i):
            level["reader"] = None
            i += 2
            continue
        elif c == "|":
            level["reader"] = []
            readers.append(level["reader"])
            i += 1
            continue
        elif c == ")" and len(stack) > 1:
            stack.pop()
            i += 1
            continue
        elif c in ";&":
            level["reader"] = None
        if level["reader"] is not None:
            level["reader"].append(c)
        i += 1
    return ["".join(r).strip() for r in readers]


def stops_early(reader):
    try:
        words = shlex.split(reader, comments=False)
    except ValueError:
        words = reader.split()
    words = [w for w in words if not re.match(r"^[A-Za-z_]+=", w)] or [""]
    command, args = words[0].rsplit("/", 1)[-1], words[1:]
    if command == "head":
        return "head stops reading after its lines; use sed -n 1,Np, or capture first"
    if command == "grep":
        options = [a for a in args if a.startswith("-")]
        if any(STOPS_EARLY_GREP.match(a) for a in options):
            return "grep -q/-m/-l stops at its first match; capture first, then grep <<<\"$out\""
        if re.search(r">\s*/dev/null", reader):
            return "grep into /dev/null stops at its first match (GNU grep); capture first"
    if command == "awk" and any(re.search(r"\bexit\b", a) for a in args if not a.startswith("-")):
        return "awk's exit stops reading; let it read to the end (END { print })"
    if command == "sed" and any(SED_QUIT.search(a) for a in args if not a.startswith("-")):
        return "sed's q stops reading; use an address range instead"
    return None


def main(paths):
    findings = 0
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        for number, line in logical_lines(text):
            if line.lstrip().startswith("#"):
                continue
            for reader in pipe_readers(line):
                reason = stops_early(reader)
                if reason:
                    findings += 1
                    print(f"{path}:{number}: | {reader[:60]}: {reason}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
