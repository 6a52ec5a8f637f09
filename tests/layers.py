#!/usr/bin/env python3
"""The layers of ARCHITECTURE.md, checked at the level of #include.

The build links each layer against only the layers it may use (CMakeLists.txt,
topo_layer), which catches a call into a layer it may not use; this catches
what a link cannot see: a header included for an inline function or a type.
Exits 1 naming every include that crosses a layer the wrong way."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
# folder -> the headers (by prefix) its files may include
ALLOWED = {
    "src/model": ["model/"],
    "src/io": ["io/"],
    "src/manifest": ["manifest/", "model/"],
    "src/kernel": ["kernel/", "model/", "io/"],
    "state": ["state/", "model/", "io/"],
    # The kernel *interface*, never an implementation.
    "reconcile": ["reconcile/", "model/", "kernel/kernel.hpp"],
    # The kernel layer only through its interfaces, the one factory of the real machine and
    # the host on paper of `plan --base`.
    "src/cli": ["cli/", "model/", "io/", "manifest/", "kernel/kernel.hpp", "kernel/machine.hpp", "kernel/paper.hpp",
                "state/", "reconcile/"],
}

bad = []
for folder, allowed in ALLOWED.items():
    for path in sorted((ROOT / folder).glob("*.[ch]pp")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m and not any(m.group(1).startswith(a) for a in allowed):
                bad.append(f"{path.relative_to(ROOT)}:{n}: includes {m.group(1)}; "
                           f"{folder} may use only {', '.join(allowed)}")
for b in bad:
    print(b)
if bad:
    sys.exit(1)
print(f"layers: every include of {len(ALLOWED)} layers points the right way")
