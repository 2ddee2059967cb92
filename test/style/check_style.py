#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""The style suite: checks every C file of the tree for the rules a script
can check (80 columns with tabs of 8, indentation by tabs, body length,
known-gap markers) and prints one TAP line per rule."""

import os
import re
import sys

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FOLDERS = ("src", "include", "test")
WIDTH_MAX = 80
BODY_MAX = 150
MARKER = re.compile(r"\b(TODO|FIXME|XXX)\b|\bNOTE:")
# Text that must not appear in code: issue references and documents that
# live outside this repository.
OUTSIDE = re.compile(r"(\.\./shared|PROVIDERS\.md|DESIGN\.md|STYLE\.md|"
                     r"[Ii]ssue #?\d+)")


def c_files():
    for folder in FOLDERS:
        for root, _, names in os.walk(os.path.join(TOP, folder)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    yield os.path.join(root, name)


def width(line):
    return len(line.expandtabs(8))


def check_widths(path, lines, problems):
    for number, line in enumerate(lines, 1):
        # A string literal or a URL may pass 80 columns, kept whole for grep.
        if width(line) > WIDTH_MAX and '"' not in line and \
                "://" not in line:
            problems.append(f"{path}:{number}: {width(line)} columns")


def check_indent(path, lines, problems):
    for number, line in enumerate(lines, 1):
        lead = line[:len(line) - len(line.lstrip(" \t"))]
        if re.fullmatch(r"\t* {0,7}", lead) is None:
            problems.append(f"{path}:{number}: indented with spaces")


def check_bodies(path, lines, problems, longest):
    start = None
    for number, line in enumerate(lines, 1):
        if line.startswith("{"):
            start = number
        elif line.startswith("}") and start is not None:
            length = number - start - 1
            if length > longest[0]:
                longest[:] = [length, f"{path}:{start}"]
            if length > BODY_MAX and "/test/" not in path:
                problems.append(f"{path}:{start}: body of {length} lines")
            start = None


def main():
    results = {"width": [], "indent": [], "body": [], "outside": []}
    longest = [0, ""]
    markers = 0
    for path in c_files():
        rel = os.path.relpath(path, TOP)
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        check_widths(rel, lines, results["width"])
        check_indent(rel, lines, results["indent"])
        check_bodies(rel, lines, results["body"], longest)
        for number, line in enumerate(lines, 1):
            if OUTSIDE.search(line):
                results["outside"].append(f"{rel}:{number}: {line.strip()}")
            if MARKER.search(line) and not rel.startswith("test"):
                markers += 1
    names = {"width": "lines fit 80 columns",
             "indent": "indentation is tabs",
             "body": f"function bodies within {BODY_MAX} lines",
             "outside": "no issue numbers or outside documents cited"}
    count = failed = 0
    for key, problems in results.items():
        count += 1
        if problems:
            failed += 1
            print(f"not ok {count} - {names[key]}")
            for problem in problems[:50]:
                print(f"# {problem}")
        else:
            print(f"ok {count} - {names[key]}")
    print(f"# longest body: {longest[0]} lines at {longest[1]}")
    print(f"# known-gap markers in src and include: {markers}")
    print(f"1..{count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
