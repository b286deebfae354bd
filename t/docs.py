"""t/docs.py - the examples of the documents run as written.

The documents: README.md, python/README.md and the EXAMPLES section of
man/dragonipc.7.  Whoever adds an example marks it, on the line just
before it, with what this test does with it:

  Markdown, the line before the opening fence:
    <!-- runnable -->              run it (the fence's language says how)
    <!-- runnable as app.c -->     run it, and keep it as app.c for the
                                   document's shell blocks
    <!-- not run: REASON -->       leave it, for the reason given
  dragonipc(7), a comment before the example's .EX (or before the .in
  that indents it), which names the language as there is no fence:
    .\\" runnable c as example.c
    .\\" runnable sh
    .\\" not run: REASON

A fenced block, or an .EX block of EXAMPLES, without a marker fails the
test: every example is either run or left alone on purpose.

Each document's blocks run in a scratch directory of its own, where the
blocks marked "as NAME" are saved before any runs (so a shell block may
build a program shown after it):
  c       compiled against the built library with the compiler and flags
          it was built with, plus -Wall -Wextra -Werror, and run;
  python  run by this interpreter with the built package;
  sh      run by sh -e; pkg-config finds the built library as
          "dragonipc", and cc is the compiler and flags above.
Each must exit with 0 within BLOCK_TIMEOUT seconds (its process group is
killed then) and leave nothing in /dev/shm.  Where it can (root, or
unprivileged user namespaces) the test gives each block a private mount
namespace with a /dev/shm of its own, so that what a block leaves is
known exactly whatever else runs; otherwise it counts the new segments of
the shared /dev/shm that no process has mapped.

The shell blocks that are not run (they install packages, say) are still
read: the files they name inside the tree (./configure, .ci/deps,
./examples/demo) must exist in the source or the build tree.  A release
tarball has no .ci/, so those are checked in a git checkout only.

Run by make check (top_srcdir and top_builddir in the environment; the
compiler as DOCS_CC, DOCS_CFLAGS, DOCS_LDFLAGS).
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

from taplib import ok, diag, skip_all, done_testing

BLOCK_TIMEOUT = 60

SRC = os.path.abspath(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..")))
BUILD = os.path.abspath(os.environ.get("top_builddir", SRC))
DOCS = ["README.md", "python/README.md", "man/dragonipc.7"]

MD_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([A-Za-z0-9_+-]*)")
MD_MARK = re.compile(r"^\s*<!--\s*(.*?)\s*-->\s*$")
MAN_MARK = re.compile(r'^\.\\"\s*((?:runnable|not run)\b.*)$')
MARK = re.compile(r"^runnable(?:\s+(c|python|sh))?(?:\s+as\s+([A-Za-z0-9_.-]+))?\s*(?::.*)?$"
                  r"|^not run:\s*(\S.*)$")
LANGS = {"c": "c", "python": "python", "py": "python", "sh": "sh", "shell": "sh",
         "bash": "sh", "console": "sh"}


class Block:
    def __init__(self, doc, line, lang, text, marker):
        self.doc, self.line, self.lang, self.text = doc, line, lang, text
        self.run = self.save_as = self.reason = None
        self.bad_marker = None
        if marker is None:
            return
        m = MARK.match(marker)
        if not m:
            self.bad_marker = marker
        elif m.group(3):
            self.reason = m.group(3)
        else:
            self.run = True
            self.lang = m.group(1) or lang
            self.save_as = m.group(2)

    @property
    def where(self):
        return "%s:%d" % (self.doc, self.line)


def markdown_blocks(doc, lines):
    blocks, i, prev = [], 0, None
    while i < len(lines):
        m = MD_FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        fence, lang, start = m.group(1), LANGS.get(m.group(2).lower(), m.group(2).lower()), i
        i += 1
        body = []
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        mm = MD_MARK.match(prev or "")
        blocks.append(Block(doc, start + 1, lang, "\n".join(body) + "\n",
                            mm.group(1) if mm else None))
        prev = None
    return blocks


def unroff(line):
    for a, b in (("\\-", "-"), ("\\(aq", "'"), ("\\&", ""), ("\\e", "\\")):
        line = line.replace(a, b)
    return line


def man_blocks(doc, lines):
    """The .EX blocks of the EXAMPLES section."""
    blocks, marker, inside, i = [], None, False, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH"):
            inside = line.split(None, 1)[1:] == ["EXAMPLES"]
        elif inside:
            m = MAN_MARK.match(line)
            if m:
                marker = m.group(1)
            elif line.startswith(".EX"):
                start, body = i, []
                i += 1
                while i < len(lines) and not lines[i].startswith(".EE"):
                    if not lines[i].startswith("."):
                        body.append(unroff(lines[i]))
                    i += 1
                blocks.append(Block(doc, start + 1, None, "\n".join(body) + "\n", marker))
                marker = None
            elif not line.startswith("."):
                marker = None       # a marker stands just before its block
        i += 1
    return blocks


# ---- where the blocks run --------------------------------------------------

def private_shm_cmd():
    """The command prefix that gives a block a /dev/shm of its own, or None."""
    if not shutil.which("unshare"):
        return None
    for extra in ([], ["--map-root-user"]):
        cmd = ["unshare", "--mount"] + extra
        try:
            r = subprocess.run(cmd + ["sh", "-c", "mount -t tmpfs none /dev/shm"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=BLOCK_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0:
            return cmd
    return None


# Inside the namespace: a fresh tmpfs on /dev/shm, the block, then what it left.
NS_SCRIPT = """mount -t tmpfs -o mode=1777 dipc-docs /dev/shm || exit 97
"$@"
rc=$?
ls -A /dev/shm >"$DOCS_SHM_LEFT"
exit $rc
"""


def unmapped_segments(names):
    """Of these /dev/shm names, those no live process has mapped."""
    mapped = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/maps" % pid) as f:
                for line in f:
                    if "/dev/shm/" in line:
                        mapped.add(line.split("/dev/shm/", 1)[1].split()[0])
        except OSError:
            pass
    return sorted(n for n in names if n not in mapped)


def shm_names():
    try:
        return set(os.listdir("/dev/shm"))
    except OSError:
        return set()


def run(argv, cwd, env, ns, watch_shm=True):
    """Run argv; returns (exit status or None on a hang, output, segments left)."""
    left_file = os.path.join(cwd, ".shm-left")
    if ns:
        argv = ns + ["sh", "-c", NS_SCRIPT, "sh"] + argv
        env = dict(env, DOCS_SHM_LEFT=left_file)
    before = shm_names()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        status = None
    try:
        os.killpg(proc.pid, signal.SIGKILL)     # whatever it left running
    except OSError:
        pass
    if ns:
        try:
            with open(left_file) as f:
                left = f.read().split()
            os.unlink(left_file)
        except OSError:
            left = []
    elif watch_shm:
        left = unmapped_segments(n for n in shm_names() - before if n.startswith("dipc."))
    else:
        left = []
    return status, out.decode("utf-8", "replace"), left


def setup_scratch(root, name):
    """A scratch directory with pkg-config and cc set up for the built library."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, ".bin"))
    os.makedirs(os.path.join(d, ".pkgconfig"))
    shutil.copy(os.path.join(BUILD, "dragonipc-uninstalled.pc"),
                os.path.join(d, ".pkgconfig", "dragonipc.pc"))
    cc = os.path.join(d, ".bin", "cc")
    with open(cc, "w") as f:
        f.write('#!/bin/sh\n# The compiler and flags libdragonipc was built with.\n'
                'exec $DOCS_CC $DOCS_CFLAGS -Wall -Wextra -Werror "$@" $DOCS_LDFLAGS\n')
    os.chmod(cc, 0o755)
    return d


def block_env(scratch):
    env = dict(os.environ)
    env["PATH"] = os.path.join(scratch, ".bin") + os.pathsep + env.get("PATH", "")
    env["PKG_CONFIG_PATH"] = os.path.join(scratch, ".pkgconfig")
    env["LD_LIBRARY_PATH"] = os.path.join(BUILD, ".libs")
    env["PYTHONPATH"] = os.path.join(BUILD, "python", "lib")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.setdefault("DOCS_CC", "cc")
    env.setdefault("DOCS_CFLAGS", "")
    env.setdefault("DOCS_LDFLAGS", "")
    return env


def file_for(block, n):
    ext = {"c": ".c", "python": ".py", "sh": ".sh"}[block.lang]
    return block.save_as or "block%d%s" % (n, ext)


def run_block(block, n, scratch, env, ns):
    """Run one block; returns (passed, output, left)."""
    src = file_for(block, n)
    if block.lang == "c":
        exe = "block%d" % n
        cc = shlex.split(env["DOCS_CC"]) + shlex.split(env["DOCS_CFLAGS"]) + [
            "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(SRC, "include"),
            "-o", exe, src, "-L" + os.path.join(BUILD, ".libs"), "-ldragonipc"
        ] + shlex.split(env["DOCS_LDFLAGS"])
        status, out, _ = run(cc, scratch, env, None, watch_shm=False)
        if status != 0:
            return "does not compile (%s)" % " ".join(cc), out, []
        argv = ["./" + exe]
    elif block.lang == "python":
        argv = [sys.executable, src]
    else:
        argv = ["sh", "-e", src]
    status, out, left = run(argv, scratch, env, ns)
    if status is None:
        return "hangs: still running after %d s" % BLOCK_TIMEOUT, out, left
    if status != 0:
        return "fails with exit status %d" % status, out, left
    return None, out, left


PATH_WORD = re.compile(r"^(?:\./)?[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+$|^\./[A-Za-z0-9_.-]+$")


def named_paths(text):
    """Words of a shell block that name a file inside the tree."""
    words = re.split(r"[\s;&|()`]+", text)
    for w in words:
        if PATH_WORD.match(w) and not w.startswith("../"):
            yield w[2:] if w.startswith("./") else w


def missing_paths(block):
    in_git = os.path.exists(os.path.join(SRC, ".git"))
    docdir = os.path.dirname(os.path.join(SRC, block.doc))
    missing = []
    for p in named_paths(block.text):
        if p.startswith(".ci/") and not in_git:
            continue
        if not any(os.path.exists(os.path.join(base, p)) for base in (SRC, BUILD, docdir)):
            missing.append(p)
    return missing


def main():
    if not sys.platform.startswith("linux") or not os.path.isdir("/dev/shm"):
        skip_all("Linux only (the examples fork and use /dev/shm)")
    if not os.path.exists(os.path.join(BUILD, "dragonipc-uninstalled.pc")):
        skip_all("no built library in %s" % BUILD)

    ns = private_shm_cmd()
    diag("each block gets %s" % ("a private /dev/shm (%s)" % " ".join(ns) if ns else
                                 "the shared /dev/shm: no mount namespace here"))
    root = tempfile.mkdtemp(prefix="dipc-docs.")
    try:
        for doc in DOCS:
            with open(os.path.join(SRC, doc), encoding="utf-8") as f:
                lines = f.read().split("\n")
            blocks = (man_blocks if doc.startswith("man/") else markdown_blocks)(doc, lines)
            ok(blocks, "%s: has examples to read" % doc)
            scratch = setup_scratch(root, doc.replace("/", "_"))
            env = block_env(scratch)
            for n, b in enumerate(blocks, 1):
                if b.run and b.lang in ("c", "python", "sh"):
                    with open(os.path.join(scratch, file_for(b, n)), "w") as f:
                        f.write(b.text)
            for n, b in enumerate(blocks, 1):
                if b.bad_marker is not None:
                    ok(False, "%s: a marker this test understands" % b.where)
                    diag("  <!-- %s --> is neither \"runnable [as NAME]\" nor "
                         "\"not run: REASON\"" % b.bad_marker)
                elif b.reason is not None:
                    if b.lang == "sh":
                        missing = missing_paths(b)
                        ok(not missing, "%s: not run (%s); the files it names exist"
                           % (b.where, b.reason))
                        for p in missing:
                            diag("  no %s in the source or build tree" % p)
                    else:
                        ok(True, "%s: not run (%s)" % (b.where, b.reason))
                elif not b.run:
                    ok(False, "%s: marked runnable or not run" % b.where)
                    diag("  put <!-- runnable --> or <!-- not run: REASON --> on the line "
                         "before the block (see t/docs.py)")
                elif b.lang not in ("c", "python", "sh"):
                    ok(False, "%s: runnable, in a language this test runs" % b.where)
                    diag("  language %r: use c, python or sh" % b.lang)
                else:
                    why, out, left = run_block(b, n, scratch, env, ns)
                    label = "%s: the %s example runs" % (b.where, b.lang)
                    if ok(why is None, label):
                        diag("\n".join("  | " + l for l in out.rstrip().split("\n")[-6:]))
                    else:
                        diag("  it " + why)
                        diag("\n".join("  | " + l for l in out.rstrip().split("\n")[-30:]))
                    ok(not left, "%s: ... and leaves nothing in /dev/shm" % b.where)
                    for s in left:
                        diag("  left /dev/shm/%s" % s)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    done_testing()


main()
