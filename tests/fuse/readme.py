#!/usr/bin/env python3
"""readme.py README OUT.sh - turns the README's shell blocks into a script.

Every ```sh block of the README is either run by tests/fuse/readme.sh (the
script written to OUT.sh runs them in README order, as a newcomer would
type them, each line checked) or named below as covered by another test;
a block that is neither fails (exit 1), so a new README line cannot go
unchecked.

    block (its first line starts with)        checked by
    apt-get update && ... uvfsd /mnt/uvfs     here: the packages must be
                                              installed (dpkg -s); the
                                              build is the one under test;
                                              uvfsd /mnt/uvfs is run
    tests/run                                 tests/run itself (this test
                                              is one of its tests)
    mkdir /mnt/uvfs/m  (common tasks)         here
    mkdir -p /srv/data (hostfs)               here
    mkdir -p /srv/export (diod)               here, when diod is installed
    mkdir -p /mnt/uvfs/n (nfs://server/...)   tests/fuse/nfs.sh (the same
                                              mount against ganesha; the
                                              README's server is a
                                              placeholder)
    build/cli/uvfs shutdown /mnt/uvfs         here
    #include <uvfs/uvfs.h> (C)                here: each uvfs_*() call
                                              is made so in
                                              examples/embed.c, which
                                              tests/install/install.sh
                                              builds and runs
    build/examples/hello_9p                   here
    meson setup build-inst ... ldconfig       tests/install/install.sh
                                              (the same setup, build and
                                              install, into a DESTDIR)
    cc examples/embed.c $(pkg-config ...)     tests/install/install.sh
                                              (the same cc line)
    mkdir -p /mnt/uvfs2 (fstab)               here (uvfsd bound into
                                              /usr/local/sbin, a private
                                              /etc/fstab); also
                                              tests/fuse/service.sh
    systemctl daemon-reload ...               tests/systemd/verify.sh
                                              (systemd-analyze verify of
                                              the unit; no systemd to run
                                              it in a test)
    mkdir -p /mnt/uvfs && ... -o allow_other  here

Each line run here must exit 0, but for the ones EXPECT lists (the busy
unmounts, the read of a revoked file), which must fail; some lines' output
must contain a given text (OUTPUT).
"""
import re
import shlex
import sys

readme, out_path = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read().split("\n")

blocks = []  # (first line number, language, lines)
i = 0
while i < len(text):
    m = re.match(r"^```(\w*)\s*$", text[i])
    if m:
        lang, start, body = m.group(1), i + 1, []
        i += 1
        while i < len(text) and not text[i].startswith("```"):
            body.append(text[i])
            i += 1
        blocks.append((start + 1, lang, body))
    i += 1

RUN = ["apt-get update", "mkdir /mnt/uvfs/m", "mkdir -p /srv/data",
       "mkdir -p /srv/export", "build/cli/uvfs shutdown /mnt/uvfs",
       "build/examples/hello_9p", "mkdir -p /mnt/uvfs2",
       "mkdir -p /mnt/uvfs && build/daemon/uvfsd /mnt/uvfs -o allow_other"]
COVERED = {"tests/run": "tests/run",
           "mkdir -p /mnt/uvfs/n": "tests/fuse/nfs.sh",
           "meson setup build-inst": "tests/install/install.sh",
           "cc examples/embed.c": "tests/install/install.sh",
           "systemctl daemon-reload": "tests/systemd/verify.sh"}
# (line start, must fail); (line start, text its output must contain)
EXPECT = ["build/cli/uvfs umount /mnt/uvfs/m        # busy",
          "build/cli/uvfs umount /mnt/uvfs/m       # busy",
          "cat <&3"]
OUTPUT = {"build/cli/uvfs umount /mnt/uvfs/m        # busy": "target is busy",
          "build/cli/uvfs umount /mnt/uvfs/m       # busy": "target is busy",
          "cat <&3": "Input/output error",
          "build/cli/uvfs holders /mnt/uvfs/m": "pid ",
          "sleep 1; build/examples/embed unix:/tmp/hello.sock":
              "/srv/hello: Hello, world!",
          "build/cli/uvfs -m /mnt/uvfs servers": "running",
          "build/cli/uvfs mount --help": "-t hostfs"}

def calls(line):
    """The uvfs_*(...) calls on a line, whitespace collapsed."""
    out = []
    for m in re.finditer(r"\buvfs_\w+\(", line):
        depth, j = 0, m.start()
        while j < len(line):
            depth += {"(": 1, ")": -1}.get(line[j], 0)
            j += 1
            if depth == 0 and line[j - 1] == ")":
                break
        out.append(" ".join(line[m.start():j].split()))
    return out


bad = []
script = ["# generated by tests/fuse/readme.py from the README; do not edit",
          "set -u"]
embed = None
for lineno, lang, body in blocks:
    first = next((l for l in body if l.strip()), "")
    if lang == "c":
        if embed is None:
            embed = open(readme.rsplit("/", 1)[0] + "/examples/embed.c",
                         encoding="utf-8").read()
        # each call of the excerpt, as the program makes it (the
        # program wraps them in CHECK() and prints what they return)
        flat = " ".join(embed.split())
        for k, l in enumerate(body):
            for call in calls(l):
                if call not in flat:
                    bad.append("README line %d (C): %s is not in "
                               "examples/embed.c" % (lineno + k, call))
        continue
    if lang != "sh":
        continue
    if any(first.startswith(c) for c in COVERED):
        continue
    run = next((r for r in RUN if first.startswith(r)), None)
    if run is None:
        bad.append("README line %d: a shell block no test checks: %s"
                   % (lineno, first))
        continue
    script.append("block %d %s" % (lineno, shlex.quote(run)))
    for k, l in enumerate(body):
        n = lineno + k
        if not l.strip() or l.lstrip().startswith("#"):
            continue
        if run == "apt-get update":
            # the packages must be there; the build is the one under test
            parts = l.split(" && ")
            pkgs = re.search(r"apt-get install -y (.*)", parts[1]).group(1)
            script.append("packages %s" % pkgs)
            l = " && ".join(p for p in parts[2:]
                            if not p.startswith(("meson setup build",
                                                 "ninja -C build")))
        fail = any(l.startswith(e) for e in EXPECT)
        want = next((w for e, w in OUTPUT.items() if l.startswith(e)), "")
        script.append("step %d %d %s" % (n, 1 if fail else 0,
                                         shlex.quote(want)))
        script.append("{ %s\n} >\"$STEP_OUT\" 2>&1" % l)
        script.append("check $?")
if bad:
    print("\n".join(bad))
    sys.exit(1)
open(out_path, "w", encoding="utf-8").write("\n".join(script) + "\n")
