"""Pack a built dragonipc package directory into a wheel (make windows-wheel).

    python3 mkwheel.py --lib DIR --tag cp311-cp311-win_amd64 \
        --pyproject python/pyproject.toml --readme python/README.md --out DIST

DIR holds the package directory dragonipc/ exactly as it is to be
installed (Python files, the extension, the DLL beside it).  The wheel is
written as the wheel format (PEP 427) says: the files, then
NAME-VERSION.dist-info with METADATA, WHEEL and RECORD (each file's
sha256 and size).  Name, version, summary and Python requirement come
from pyproject.toml, so the wheel says what a source build would.

It runs with any Python 3 of the build machine (3.6 or later): it needs
nothing beyond the standard library.
"""

import argparse
import base64
import hashlib
import os
import re
import sys
import zipfile


def project_fields(path):
    """name, version, description and requires-python of [project]."""
    fields, section = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
                continue
            m = re.match(r'^([A-Za-z-]+)\s*=\s*"([^"]*)"$', line)
            if section == "[project]" and m:
                fields[m.group(1)] = m.group(2)
    for key in ("name", "version"):
        if key not in fields:
            sys.exit("mkwheel: no %s in the [project] table of %s" % (key, path))
    return fields


def record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "%s,sha256=%s,%d" % (arcname, digest.decode("ascii"), len(data))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", required=True, help="directory holding the package directory")
    ap.add_argument("--tag", required=True, help="python-abi-platform, e.g. cp311-cp311-win_amd64")
    ap.add_argument("--pyproject", required=True)
    ap.add_argument("--readme")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = project_fields(a.pyproject)
    name = re.sub(r"[-_.]+", "_", meta["name"])
    version = meta["version"]
    if not re.fullmatch(r"cp\d+-(cp\d+|abi3|none)-win_amd64", a.tag):
        sys.exit("mkwheel: %r is not a tag this tool makes wheels for" % a.tag)
    pkg = os.path.join(a.lib, name)
    if not os.path.isdir(pkg):
        sys.exit("mkwheel: no package directory %s" % pkg)

    files = []
    for root, dirs, names in os.walk(a.lib):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for n in sorted(names):
            if n.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(root, n)
            files.append((os.path.relpath(full, a.lib).replace(os.sep, "/"), full))
    if not any(arc.endswith(".pyd") for arc, _ in files):
        sys.exit("mkwheel: no extension module (.pyd) under %s" % a.lib)

    info = "%s-%s.dist-info" % (name, version)
    metadata = ["Metadata-Version: 2.1", "Name: %s" % meta["name"], "Version: %s" % version]
    if "description" in meta:
        metadata.append("Summary: %s" % meta["description"])
    if "requires-python" in meta:
        metadata.append("Requires-Python: %s" % meta["requires-python"])
    metadata.append("Classifier: Operating System :: Microsoft :: Windows")
    body = ""
    if a.readme:
        metadata.append("Description-Content-Type: text/markdown")
        with open(a.readme, encoding="utf-8") as f:
            body = "\n" + f.read()
    wheel = ["Wheel-Version: 1.0", "Generator: dragonipc mkwheel.py",
             "Root-Is-Purelib: false", "Tag: %s" % a.tag]

    os.makedirs(a.out, exist_ok=True)
    target = os.path.join(a.out, "%s-%s-%s.whl" % (name, version, a.tag))
    tmp = target + ".tmp"
    record = []
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            z.writestr(zipfile.ZipInfo(arcname, (2020, 1, 1, 0, 0, 0)), data,
                       zipfile.ZIP_DEFLATED)
            record.append(record_line(arcname, data))

        for arc, full in files:
            with open(full, "rb") as f:
                add(arc, f.read())
        add(info + "/METADATA", ("\n".join(metadata) + "\n" + body).encode("utf-8"))
        add(info + "/WHEEL", ("\n".join(wheel) + "\n").encode("utf-8"))
        record.append(info + "/RECORD,,")
        z.writestr(zipfile.ZipInfo(info + "/RECORD", (2020, 1, 1, 0, 0, 0)),
                   ("\n".join(record) + "\n").encode("utf-8"), zipfile.ZIP_DEFLATED)
    os.replace(tmp, target)
    print(target)


if __name__ == "__main__":
    main()
