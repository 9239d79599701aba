#!/usr/bin/env python3
"""The library's module import graph, from the `use crate::` lines and `crate::` paths in src/.

    python3 scripts/import_graph.py            # print the graph, its loops and layer breaks
    python3 scripts/import_graph.py --check    # also fail (exit 1) on a new loop or layer break
    python3 scripts/import_graph.py --tests    # count `#[cfg(test)]` code too (never checked)

A node is a top-level module of src/ (a file or a folder). Test code is left out by default:
a unit test may build whatever it needs, it adds no dependency to the library. Comments are
left out too (a doc link to a higher layer is fine). Standard library only.

The rules: no module imports a module of a higher layer (LAYERS below, bottom to top), and no
two top-level modules are in one import loop (a loop inside one folder is fine). A loop is
tolerated only while every upward edge in it is a KNOWN_VIOLATION.
"""
import os
import re
import sys

# Bottom to top. A module may import its own layer and the layers below it.
LAYERS = [
    ("ground", ["error", "ids", "labels", "time", "wire", "aead", "kdf", "keys", "event"]),
    ("pieces", ["x3dh", "ratchet", "session", "certificate", "sealed", "attachment", "mask",
                "verify", "group", "persist"]),
    ("account", ["account"]),
    ("device", ["device"]),
    # Live-chat support conversations and history handover: groups, certificates and
    # attachments put together for one product shape (SPEC.md §20).
    ("support", ["history", "support"]),
    ("backup", ["backup"]),
    ("top", ["umbrella", "crate", "wycheproof_tests"]),
]

# What is still wrong after the ground-floor work, each with why it is still there. These are
# warnings; anything not listed fails `--check`. Remove an entry once it is fixed: a listed
# edge that no longer exists is reported so the list only shrinks.
KNOWN_VIOLATIONS = [
    # (from, to, why it is still there) -- empty: every layer rule holds.
]

LAYER_OF = {m: i for i, (_, ms) in enumerate(LAYERS) for m in ms}
LAYER_NAME = [name for name, _ in LAYERS]


def strip_comments(text):
    """Drops `//` comments (doc comments included) and string literals' contents."""
    out = []
    for line in text.split("\n"):
        # Good enough for this code base: no `//` inside the string literals of `use` lines.
        i = line.find("//")
        out.append(line if i < 0 else line[:i])
    return "\n".join(out)


def strip_tests(text):
    """Drops every `#[cfg(test)]` item: a `mod x { ... }` block, a `mod x;` or a `use`."""
    out, i = [], 0
    while True:
        j = text.find("#[cfg(test)]", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        k = j + len("#[cfg(test)]")
        # The item ends at its first `;` or at the brace closing its first `{`.
        semi = text.find(";", k)
        brace = text.find("{", k)
        if brace < 0 or (0 <= semi < brace):
            i = semi + 1 if semi >= 0 else len(text)
            continue
        depth, p = 0, brace
        while p < len(text):
            if text[p] == "{":
                depth += 1
            elif text[p] == "}":
                depth -= 1
                if depth == 0:
                    break
            p += 1
        i = p + 1


def split_top(group):
    """Splits `a::{B, c::D}, e` at its top-level commas."""
    parts, depth, cur = [], 0, []
    for ch in group:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def heads(tree):
    """The first path segment of every path in a use tree (after `crate::`)."""
    tree = tree.strip()
    if tree.startswith("{") and tree.endswith("}"):
        out = []
        for part in split_top(tree[1:-1]):
            out.extend(heads(part))
        return out
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", tree)
    return [m.group(1)] if m else []


def root_reexports(root):
    """Maps each name `lib.rs` re-exports (`pub use m::{A, B}`) to its module `m`."""
    text = strip_tests(strip_comments(open(os.path.join(root, "lib.rs")).read()))
    names = {}
    for u in re.finditer(r"\bpub\s+use\s+([a-z_][a-z0-9_]*)::(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*)\s*;", text):
        module, tree = u.group(1), u.group(2)
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", tree):
            names.setdefault(name, module)
    return names


def module_of(root, path):
    parts = os.path.relpath(path, root)[:-3].split(os.sep)
    if parts == ["lib"]:
        return "crate", 0
    # Depth below the top-level module: how many `super::` reach the crate root.
    depth = len(parts) if parts[-1] != "mod" else len(parts) - 1
    return parts[0], depth


def graph(root, with_tests):
    reexported = root_reexports(root)
    tops = {n[:-3] if n.endswith(".rs") else n for n in os.listdir(root)} - {"lib"}
    edges = {}
    for d, _, fs in sorted(os.walk(root)):
        for f in sorted(fs):
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            m, depth = module_of(root, path)
            if not with_tests and m.endswith("_tests"):
                continue
            text = strip_comments(open(path).read())
            if not with_tests:
                text = strip_tests(text)
            targets = set()
            for u in re.finditer(r"\buse\s+crate::(\{[^;]*\}|[^;]*);", text):
                targets.update(heads(u.group(1)))
            for u in re.finditer(r"(?<![A-Za-z0-9_:])crate::([A-Za-z_][A-Za-z0-9_]*)", text):
                targets.add(u.group(1))
            if depth >= 1:
                # `super::` repeated `depth` times names the crate root.
                pat = r"(?<![A-Za-z0-9_:])" + r"super::" * depth + r"(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*)"
                for u in re.finditer(pat, text):
                    targets.update(heads(u.group(1)))
            for t in targets:
                t = reexported.get(t, t)
                if t in tops and t != m:
                    edges.setdefault(m, set()).add(t)
            edges.setdefault(m, set())
    return edges


def loops(edges):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    nodes = sorted(set(edges) | {t for ts in edges.values() for t in ts})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def upward(edges):
    """Edges from a module to a module of a higher layer, and modules with no layer."""
    ups, unknown = [], set()
    for m, ts in sorted(edges.items()):
        for t in sorted(ts):
            for x in (m, t):
                if x not in LAYER_OF:
                    unknown.add(x)
            if m in LAYER_OF and t in LAYER_OF and LAYER_OF[t] > LAYER_OF[m]:
                ups.append((m, t))
    return ups, sorted(unknown)


def main(argv):
    check = "--check" in argv
    with_tests = "--tests" in argv
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    edges = graph(os.path.normpath(root), with_tests)
    print("import graph of src/ (top-level modules; `a -> b` means a uses b):")
    for m in sorted(edges, key=lambda x: (LAYER_OF.get(x, 99), x)):
        layer = LAYER_NAME[LAYER_OF[m]] if m in LAYER_OF else "?"
        print(f"  [{layer:7}] {m:16} -> {' '.join(sorted(edges[m])) or '-'}")
    known = {(a, b): why for a, b, why in KNOWN_VIOLATIONS}
    failures, warnings = [], []

    cyc = loops(edges)
    ups, unknown = upward(edges)
    # A loop is known when every one of its upward edges is a known violation.
    for comp in cyc:
        inner = [(a, b) for a, b in ups if a in comp and b in comp]
        if inner and all(e in known for e in inner):
            warnings.append(f"loop (known, closed by {', '.join(f'{a}->{b}' for a, b in inner)}): {' '.join(comp)}")
        else:
            failures.append(f"loop between top-level modules: {' '.join(comp)}")
    for a, b in ups:
        where = f"{a} ({LAYER_NAME[LAYER_OF[a]]}) imports {b} ({LAYER_NAME[LAYER_OF[b]]})"
        if (a, b) in known:
            warnings.append(f"known violation: {where}: {known[(a, b)]}")
        else:
            failures.append(f"layer violation: {where}")
    for m in unknown:
        failures.append(f"module `{m}` is in no layer: add it to LAYERS in {sys.argv[0]}")
    for a, b in sorted(known):
        if (a, b) not in ups:
            warnings.append(f"KNOWN_VIOLATIONS lists {a} -> {b}, which is gone: remove it")

    print(f"loops: {cyc if cyc else 'none'}")
    for w in warnings:
        print(f"warning: {w}")
    for f in failures:
        print(f"{'error' if check else 'note'}: {f}")
    if check and failures:
        return 1
    print("ok" if not failures else f"{len(failures)} problem(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
