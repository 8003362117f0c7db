#!/usr/bin/env python3
"""Fails when a file in src/ includes a header of a layer its own layer does not link.

The layer order is the one CMakeLists.txt states with onsen_layer(onsen_<name> <dir> deps...):
a layer may include itself and every layer it links, directly or through a linked layer (the
links are PUBLIC, so their headers are part of the linked layer's interface). Because every
layer exports all of src/ as its include path, the compiler would accept an include pointing up
as long as the header is header-only; this check is what catches it.

Usage: check_includes.py [REPO_ROOT]  (default: two levels above this script)
"""
import pathlib
import re
import sys

LAYER_CALL = re.compile(r"^\s*onsen_layer\(\s*onsen_(\w+)\s+(\w+)([^)]*)\)", re.M)
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_links(cmake_text):
    """{layer dir: set of layer dirs it links directly}, from the onsen_layer calls."""
    names = {}  # onsen_<name> -> dir
    deps = {}
    for name, directory, rest in LAYER_CALL.findall(cmake_text):
        names[name] = directory
        deps[directory] = [d[len("onsen_"):] for d in rest.split() if d.startswith("onsen_")]
    return {d: {names[n] for n in ds} for d, ds in deps.items()}


def closure(links):
    """Each layer with every layer it reaches through its links, itself included."""
    reach = {}

    def visit(layer, seen):
        if layer in reach:
            return reach[layer]
        if layer in seen:
            raise SystemExit(f"layer cycle through {layer}")
        out = {layer}
        for dep in links.get(layer, ()):
            out |= visit(dep, seen | {layer})
        reach[layer] = out
        return out

    for layer in links:
        visit(layer, set())
    return reach


def violations(root):
    src = root / "src"
    links = layer_links((root / "CMakeLists.txt").read_text())
    if not links:
        raise SystemExit("no onsen_layer(...) calls found in CMakeLists.txt")
    # src/main.cpp is the executable on top: it links onsen_cli.
    links["."] = {"cli"}
    allowed = closure(links)
    found = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".hpp", ".cpp", ".cc") or not path.is_file():
            continue
        rel = path.relative_to(src)
        own = rel.parts[0] if len(rel.parts) > 1 else "."
        if own not in allowed:
            found.append(f"src/{rel}: directory {own}/ is no onsen_layer in CMakeLists.txt")
            continue
        text = path.read_text(errors="replace")
        for match in INCLUDE.finditer(text):
            target = match.group(1)
            line = text.count("\n", 0, match.start()) + 1
            if ".." in pathlib.PurePosixPath(target).parts:
                found.append(f"src/{rel}:{line}: include \"{target}\" climbs with ..")
                continue
            if "/" not in target:
                continue  # a header beside this file: same layer
            layer = target.split("/", 1)[0]
            if layer not in links:
                continue  # not one of ours (a system or third-party header in quotes)
            if layer not in allowed[own]:
                found.append(f"src/{rel}:{line}: layer {own} includes \"{target}\" "
                             f"but links only {sorted(allowed[own] - {own})}")
    return found


def main():
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2]
    found = violations(root)
    for v in found:
        print(v)
    if found:
        print(f"{len(found)} include(s) point up or sideways; see docs/ARCHITECTURE.md")
        return 1
    print("every include in src/ points to its own layer or one it links")
    return 0


if __name__ == "__main__":
    sys.exit(main())
