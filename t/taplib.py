"""taplib - the Test Anything Protocol for the Python tests, in one module.

    from taplib import ok, is_, raises, diag, skip_all, done_testing
    ok(cond, "name");  is_(got, want, "name");  raises(Exc, fn, *args)
    diag("...");  skip("name", "reason");  skip_all("reason")
    done_testing()  # prints the plan, exits

Output is flushed line by line so that a test killed half-way still shows
what it did.
"""

import os
import sys
import traceback

_run = 0
_failed = 0

# TAP is UTF-8 text.  A Windows Python writes to a pipe in the system's
# code page, where a test name or a diagnostic (a name in another script,
# a child's output) may not fit: that must never end a test.  The child
# interpreters a test starts write UTF-8 too, so that what the test reads
# back from them is what they printed.
os.environ.setdefault("PYTHONIOENCODING", "utf-8")
try:
    sys.stdout.reconfigure(encoding="utf-8", errors="backslashreplace")
except (AttributeError, ValueError):
    pass


def _emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def diag(msg):
    """Print msg as a TAP comment."""
    for line in str(msg).splitlines() or [""]:
        _emit("# " + line)


def ok(cond, name=""):
    """One test: passes when cond is true.  Returns bool(cond)."""
    global _run, _failed
    _run += 1
    if not cond:
        _failed += 1
    _emit("%s %d - %s" % ("ok" if cond else "not ok", _run, name))
    if not cond:
        caller = traceback.extract_stack(limit=3)[0]
        diag("  failed at %s line %d" % (caller.filename, caller.lineno))
    return bool(cond)


def is_(got, want, name=""):
    """One test: passes when got == want; shows both otherwise."""
    good = got == want
    ok(good, name)
    if not good:
        diag("       got: %r" % (got,))
        diag("  expected: %r" % (want,))
    return good


def raises(exc, fn, *args, name=None, **kw):
    """One test: fn(*args, **kw) must raise exc.  Returns the exception."""
    label = name or "%s raises %s" % (getattr(fn, "__name__", "call"), exc.__name__)
    try:
        fn(*args, **kw)
    except exc as e:
        ok(True, label)
        return e
    except Exception as e:   # the wrong exception is a failure, not a crash
        ok(False, label)
        diag("  raised %s: %s" % (type(e).__name__, e))
        return None
    ok(False, label)
    diag("  nothing was raised")
    return None


def skip(name, reason):
    """One test that cannot run here: counted as passed, marked SKIP."""
    global _run
    _run += 1
    _emit("ok %d - %s # SKIP %s" % (_run, name, reason))


def skip_all(reason):
    """Skip the whole file."""
    _emit("1..0 # SKIP %s" % reason)
    sys.exit(0)


def bail_out(reason):
    """Stop everything: something needed by every later test failed."""
    _emit("Bail out! %s" % reason)
    sys.exit(255)


def done_testing():
    """Print the plan (after the tests, as TAP allows) and exit."""
    _emit("1..%d" % _run)
    sys.exit(1 if _failed or _run == 0 else 0)


def unique(prefix):
    """A name no other test run uses at the same time."""
    import os
    import random
    return "%s-%d-%06x" % (prefix, os.getpid(), random.getrandbits(24))
