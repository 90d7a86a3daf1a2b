"""Prints the crates the fuzz build compiles without coverage instrumentation and at opt-level 0
(rustc-wrapper.sh): those that only run at build time (proc macros, build scripts and their
dependencies). No fuzz target runs their code. A crate name that the readers' run-time
dependencies also use (another version of it) stays instrumented. The editor's GUI stack (eframe,
wgpu, rfd) is not built at all: fuzz/Cargo.toml turns marionette's `gui` feature off, and this
script fails if it comes back.

    python3 fuzz/uninstrumented.py > fuzz/target/uninstrumented.txt   (run.sh does this)
"""

import json
import os
import subprocess
import sys

GUI = {"eframe", "egui", "wgpu", "winit", "rfd"}
here = os.path.dirname(os.path.abspath(__file__))
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--manifest-path",
     os.path.join(here, "Cargo.toml")],
    check=True, capture_output=True, text=True).stdout)
packages = {p["id"]: p for p in meta["packages"]}
names = {i: p["name"].replace("-", "_") for i, p in packages.items()}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}


def is_proc_macro(i):
    return any("proc-macro" in t["kind"] for t in packages[i]["targets"])


def normal_deps(i):
    return [d["pkg"] for d in nodes[i]["deps"] if any(k["kind"] is None for k in d["dep_kinds"])]


def runtime(starts):
    """Crates whose code runs in the fuzz binaries: normal dependencies, not through proc macros."""
    seen, stack = set(), [s for s in starts if not is_proc_macro(s)]
    while stack:
        i = stack.pop()
        if i not in seen:
            seen.add(i)
            stack.extend(d for d in normal_deps(i) if not is_proc_macro(d))
    return seen


fuzz = next(i for i in nodes if names[i] == "marionette_fuzz")
marionette = next(i for i in nodes if names[i] == "marionette")
starts = list(normal_deps(marionette))
starts += [d for d in normal_deps(fuzz) if d != marionette]
instrumented = {names[i] for i in runtime(starts)} | {"marionette", "marionette_fuzz"}
plain = sorted({names[i] for i in nodes} - instrumented)
gui = sorted(GUI & {names[i] for i in nodes})
if gui:
    sys.exit(f"fuzz/uninstrumented.py: the fuzz build pulls in the GUI ({', '.join(gui)}): "
             "marionette's `gui` feature must stay off in fuzz/Cargo.toml")
print("\n".join(plain))
