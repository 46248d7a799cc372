#!/usr/bin/env python3
"""docs.py UVFSD UVFS SRCDIR - the man pages and the completion agree
with the programs' own --help.

  - every option of `uvfsd --help` (its -x, --long and -o NAME) is in
    uvfsd(8) and offered by the completion of uvfsd, and every option the
    completion offers is in the help or the man page;
  - every option of `uvfs --help` and of each `uvfs COMMAND --help` is in
    uvfs(1) (in that command's paragraph) and offered by the completion of
    that command, and every command of the help is in both;
  - every type of `uvfs mount --help` is named in uvfs(1);
  - both pages render without a warning (groff -ww -z; mandoc -T lint
    when installed).
Exit 0 pass, 1 fail (each disagreement listed), 77 skip (no groff).
"""
import os
import re
import shutil
import subprocess
import sys

OPT = re.compile(r"(?<![\w\-])(--?[A-Za-z][\w\-]*)")
problems = []


def run(*argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        problems.append(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def man_text(path):
    """The page's words: escapes and font changes gone, '\\-' a '-'."""
    with open(path) as f:
        t = f.read()
    t = t.replace("\\-", "-").replace("\\e", "\\")
    t = re.sub(r"\\f[BIRP]", "", t)
    t = re.sub(r"\\\(em", "-", t)
    return t


def man_paragraphs(text):
    """The .TP paragraphs of a page: [(first line, whole text)]."""
    out = []
    parts = re.split(r"^\.TP\n", text, flags=re.M)
    for p in parts[1:]:
        first = p.split("\n", 1)[0]
        out.append((first, p))
    return out


def completion_branch(comp, func, case):
    """The words a branch of a completion function offers: the text of
    `case)` ... `;;` inside function FUNC (case None: the whole body)."""
    m = re.search(r"^%s\(\) \{\n(.*?)^\}" % re.escape(func), comp,
                  re.M | re.S)
    if not m:
        problems.append(f"completion: no function {func}")
        return ""
    body = m.group(1)
    if case is None:
        return body
    # the branch: from its "\tcase)" line to the next line indented once
    lines = body.split("\n")
    for i, line in enumerate(lines):
        if re.match(r"^\t(?:[\w|]*\|)?%s(?:\|[\w|]*)?\)" % re.escape(case),
                    line):
            out = [line]
            for l in lines[i + 1:]:
                if re.match(r"^\t[^\t]", l):
                    break
                out.append(l)
            return "\n".join(out)
    problems.append(f"completion: {func} has no branch for {case}")
    return ""


def words(s):
    return set(re.findall(r"[\w\-=]+", s))


def main():
    uvfsd, uvfs, src = sys.argv[1:4]
    if not shutil.which("groff"):
        print("SKIP: groff is not installed")
        return 77
    with open(os.path.join(src, "completion/uvfs")) as f:
        comp = f.read()
    man1 = os.path.join(src, "man/man1/uvfs.1")
    man8 = os.path.join(src, "man/man8/uvfsd.8")

    # ---- uvfsd ----
    h = run(uvfsd, "--help")
    opts, oopts = set(), set()
    for line in h.splitlines():
        s = line.strip()
        if s.startswith("-o ") and "..." not in s:
            for o in s[3:].split()[0].split(","):
                oopts.add(re.sub(r"=.*", "=", o))
        elif s.startswith("-"):
            opts.update(OPT.findall(s.split("  ")[0]))
    for line in h.splitlines()[:2]:
        opts.update(o for o in OPT.findall(line) if o != "-o")
    page = man_text(man8)
    cw = words(completion_branch(comp, "_uvfsd", None))
    for o in sorted(opts):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), page):
            problems.append(f"uvfsd(8) lacks {o} (uvfsd --help has it)")
        if o not in cw:
            problems.append(f"completion of uvfsd lacks {o}")
    for o in sorted(oopts):
        if not re.search(r"(?<![\w-])%s" % re.escape(o.rstrip("=")), page):
            problems.append(f"uvfsd(8) lacks -o {o} (uvfsd --help has it)")
        if o not in cw:
            problems.append(f"completion of uvfsd -o lacks {o}")
    # what the completion offers exists
    m = re.search(r'^\t-o\)\n(.*?)return ;;',
                  completion_branch(comp, "_uvfsd", None), re.S | re.M)
    offered = " ".join(re.findall(r'\bo\+?="([^"]*)"', m.group(1))) if m else ""
    if not offered:
        problems.append("completion of uvfsd: no -o list (o=\"...\")")
    for o in offered.split():
        if o not in oopts and not re.search(
                r"(?<![\w-])%s" % re.escape(o.rstrip("=")), page):
            problems.append(f"completion of uvfsd offers -o {o}, unknown")
    m = re.search(r'compgen -W "(-[^"]*)"',
                  completion_branch(comp, "_uvfsd", None))
    for o in (m.group(1).split() if m else []):
        if o not in opts:
            problems.append(f"completion of uvfsd offers {o}, not in --help")

    # ---- uvfs ----
    h = run(uvfs, "--help")
    page = man_text(man1)
    paras = man_paragraphs(page)
    cparas = man_paragraphs(page.split(".SH OPTIONS")[0])
    cmds = re.findall(r"^  uvfs (\w+)", h, re.M)
    gl = set()
    for line in h.splitlines():
        s = line.strip()
        if s.startswith("-"):
            gl.update(OPT.findall(s.split("  ")[0]))
    gl |= set(OPT.findall(h.splitlines()[1]))  # uvfs --version
    top = completion_branch(comp, "_uvfs", None)
    m = re.search(r'local cmds="([^"]*)"', top)
    ccmds = set(m.group(1).split()) if m else set()
    m = re.search(r'compgen -W "(-[^"]*)"', top)
    cgl = set(m.group(1).split()) if m else set()
    for o in sorted(gl):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), page):
            problems.append(f"uvfs(1) lacks {o} (uvfs --help has it)")
        if o not in cgl:
            problems.append(f"completion of uvfs lacks {o}")
    for c in cmds:
        if c not in ccmds:
            problems.append(f"completion of uvfs lacks the command {c}")
        para = [p for first, p in cparas
                if re.search(r"\b%s\b" % c, first.replace('"', " "))]
        if not para:
            problems.append(f"uvfs(1) does not describe the command {c}")
            continue
        ch = run(uvfs, c, "--help")
        lines = ch.splitlines()
        copts = set(OPT.findall(lines[0].split(c, 1)[1]))
        for line in lines[1:]:
            if line.startswith("Options of every type") or \
               line.startswith("Types and"):
                break
            s = line.strip()
            if s.startswith("-"):
                copts.update(OPT.findall(re.split(r"  +", s)[0]))
        copts.discard("-h")
        branch = words(completion_branch(comp, "_uvfs", c))
        for o in sorted(copts):
            if not any(re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), p)
                       for p in para):
                problems.append(f"uvfs(1) lacks {c} {o} "
                                f"(uvfs {c} --help has it)")
            if o not in branch and c != "mount":
                problems.append(f"completion of uvfs {c} lacks {o}")
        for o in sorted(words(" ".join(
                re.findall(r'compgen -W "(-[^"]*)"',
                           completion_branch(comp, "_uvfs", c))))):
            if o.startswith("-") and o not in copts and o != "--help":
                problems.append(f"completion of uvfs {c} offers {o}, "
                                f"not in uvfs {c} --help")
    types = re.findall(r"^  -t (\S+)", run(uvfs, "mount", "--help"), re.M)
    if not types:
        problems.append("uvfs mount --help lists no type")
    mpara = "".join(p for first, p in paras if first.startswith(".BI \"mount"))
    for t in types:
        if not re.search(r"^\.BR? %s\b" % re.escape(t), mpara, re.M):
            problems.append(f"uvfs(1) does not name the type {t}")

    # ---- rendering ----
    for m in (man1, man8):
        p = subprocess.run(["groff", "-ww", "-z", "-man", "-t", m],
                           capture_output=True, text=True)
        if p.returncode != 0 or p.stderr:
            problems.append(f"groff -ww {m}: {p.stderr.strip()}")
        if shutil.which("mandoc"):
            p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", m],
                               capture_output=True, text=True)
            if p.stdout or p.stderr:
                problems.append(f"mandoc -T lint {m}: "
                                f"{(p.stdout + p.stderr).strip()}")

    for p in problems:
        print("FAIL:", p)
    if problems:
        return 1
    print("PASS: the man pages and the completion agree with --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
