#!/usr/bin/env python3
# tests/unit.py: read a systemd unit file as systemd does, enough for the
# tests of contrib/: continuation lines joined, comments dropped, a
# command line split into words by systemd's quoting (the shell's, for
# the quotes these units use).
#
#   unit.py UNIT exec KEY      the words of KEY= (ExecStart, ExecReload),
#                              one a line, NUL-free; a %-specifier or a
#                              ${ } (systemd would expand them) fails,
#                              %% is a %;
#                              %i is $UNIT_INSTANCE when that is set
#   unit.py UNIT env           NAME=VALUE a line, from Environment=
#   unit.py UNIT get KEY       every value of KEY=, one a line
import os
import shlex
import sys


def entries(path):
    out = []
    cur = ""
    for raw in open(path, encoding="utf-8"):
        line = raw.rstrip("\n")
        if not cur and (line.lstrip().startswith("#") or line.lstrip().startswith(";")):
            continue
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        if "=" in cur and not cur.startswith("["):
            k, v = cur.split("=", 1)
            out.append((k.strip(), v.strip()))
        cur = ""
    return out


def main():
    path, what = sys.argv[1], sys.argv[2]
    es = entries(path)
    if what == "exec":
        vals = [v for k, v in es if k == sys.argv[3]]
        if len(vals) != 1:
            sys.exit("%s: %d %s= lines" % (path, len(vals), sys.argv[3]))
        v = vals[0].lstrip("-@:+!")
        inst = os.environ.get("UNIT_INSTANCE")
        if inst is not None:
            v = v.replace("%i", inst)
        if "${" in v or "%" in v.replace("%%", ""):
            sys.exit("%s: %s= has a specifier systemd would expand" % (path, sys.argv[3]))
        v = v.replace("%%", "%")
        for w in shlex.split(v):
            print(w)
    elif what == "env":
        for k, v in es:
            if k == "Environment":
                for w in shlex.split(v):
                    print(w)
    elif what == "get":
        for k, v in es:
            if k == sys.argv[3]:
                print(v)


main()
