#!/usr/bin/env python3
"""Turns a criterion run into BENCHMARKS.md. The numbers in that file come from here only.

    python3 benches/report.py --run      # run every bench (~10 min on 2 cores), then write
    python3 benches/report.py            # write from the results of the last run

With --run it runs, in this order and with the same criterion settings:

    cargo bench --bench group --bench persist ... (every benches/*.rs) -- --warm-up-time 1 --measurement-time 2
    cargo bench --manifest-path benches/compare/Cargo.toml --bench compare -- (the same)

with CRITERION_HOME pointing both at one results folder (default: $CARGO_TARGET_DIR/criterion,
or target/criterion; both crates build into that target folder), then
`cargo run --release --manifest-path benches/compare/Cargo.toml`
for the state and wire sizes. It reads the median of each benchmark from
<results>/**/new/estimates.json (and its name from benchmark.json beside it), and writes the
tables, the targets of issue P7 (met or missed), the machine and the load while it ran.
Standard library only (Python 3.8+).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPARE_MANIFEST = "benches/compare/Cargo.toml"
CRITERION_ARGS = ["--warm-up-time", "1", "--measurement-time", "2"]
# Only the criterion targets: the library's and binaries' libtest harnesses reject criterion's
# options.
MAIN_BENCHES = sorted(p.stem for p in (ROOT / "benches").glob("*.rs"))
MAIN_BENCH_ARGS = [a for name in MAIN_BENCHES for a in ("--bench", name)]
COMPARE_BENCH_ARGS = ["--bench", "compare"]


# ─── running ─────────────────────────────────────────────────────────────────────────────


def default_criterion_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    return (Path(target) if target else ROOT / "target") / "criterion"


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run(cmd: list[str], env: dict[str, str], capture: bool = False) -> str:
    print("+", " ".join(shlex.quote(c) for c in cmd), file=sys.stderr, flush=True)
    result = subprocess.run(
        cmd, cwd=ROOT, env=env, check=True, text=True, stdout=subprocess.PIPE if capture else None
    )
    return result.stdout if capture else ""


def sizes(env: dict[str, str]) -> dict:
    out = run(
        ["cargo", "run", "--quiet", "--release", "--manifest-path", COMPARE_MANIFEST],
        env,
        capture=True,
    )
    return json.loads(out)


# ─── reading criterion ───────────────────────────────────────────────────────────────────


def read_results(criterion_dir: Path, since: float | None) -> tuple[dict, list[str]]:
    """{(group, function, value): median ns}, and the ids skipped as stale."""
    results: dict[tuple[str, str, str], float] = {}
    stale: list[str] = []
    for estimates in sorted(criterion_dir.glob("**/new/estimates.json")):
        meta_path = estimates.parent / "benchmark.json"
        if not meta_path.exists():
            continue
        meta = json.loads(meta_path.read_text())
        key = (meta["group_id"], meta.get("function_id") or "", meta.get("value_str") or "")
        if since is not None and estimates.stat().st_mtime < since:
            stale.append(meta.get("full_id", "/".join(key)))
            continue
        results[key] = json.loads(estimates.read_text())["median"]["point_estimate"]
    return results, stale


# ─── formatting ──────────────────────────────────────────────────────────────────────────


def fmt_time(ns: float | None) -> str:
    if ns is None:
        return "–"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} µs" if ns < 10_000 else f"{ns / 1_000:.1f} µs"
    return f"{ns / 1_000_000:.2f} ms"


def fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def throughput(ns: float | None, size: int) -> str:
    if ns is None:
        return "–"
    return f"{size / ns * 1e9 / 2**20:,.0f} MiB/s"


def table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["--:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


SIZE_LABELS = [("32B", 32), ("256B", 256), ("4KiB", 4096), ("64KiB", 65536)]


# ─── the document ────────────────────────────────────────────────────────────────────────


def machine_info() -> list[str]:
    model, cpus, flags = "unknown", str(os.cpu_count()), ""
    try:
        lscpu = subprocess.run(["lscpu"], text=True, capture_output=True, check=True).stdout
        for line in lscpu.splitlines():
            k, _, v = line.partition(":")
            if k.strip() == "Model name":
                model = v.strip()
            elif k.strip() == "CPU(s)":
                cpus = v.strip()
            elif k.strip() == "Flags":
                flags = v
    except (OSError, subprocess.CalledProcessError):
        pass
    simd = ", ".join(f for f in ["avx2", "avx512f", "sha_ni", "aes"] if f" {f}" in f" {flags} ")
    rustc = subprocess.run(["rustc", "-V"], text=True, capture_output=True).stdout.strip()
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        text=True,
        capture_output=True,
    ).stdout.strip()
    return [
        f"- CPU: {model}, {cpus} CPUs ({simd or 'no AVX2'}); {platform.system()} {platform.release()}",
        f"- Toolchain: {rustc}; default release profile, no RUSTFLAGS, no `target-cpu`",
        f"- Source: commit {head or 'unknown'}{' with uncommitted changes' if dirty else ''}",
    ]


def build(results: dict, sz: dict, run_info: dict) -> str:
    def get(group: str, function: str, value: str = "") -> float | None:
        return results.get((group, function, value))

    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by `benches/report.py` from one criterion run; do not edit the numbers by hand. "
        "Every figure is a criterion **median**. Each hushwire operation is measured beside its "
        "**floor** (the primitive work the design must do for it, written directly against the "
        "same primitive crates, on preallocated buffers: `benches/common/floor.rs` and each "
        "bench's floor functions) and, where vodozemac can do the same, beside **vodozemac** "
        "(`benches/compare`), all in the same run."
    )
    w("")
    w("## Run")
    w("")
    w(f"- Date: {run_info['date']}")
    out.extend(machine_info())
    w(
        f"- Load average (1, 5, 15 min) before the run: {run_info['load_before']}; after: "
        f"{run_info['load_after']}"
    )
    if run_info.get("busy"):
        w(
            "- **The machine was busy during this run** (load above its CPU count), so absolute "
            "times are inflated and ratios noisier than on an idle machine. Re-run the command "
            "below on an idle machine for clean numbers."
        )
    w(f"- Criterion settings: `{' '.join(CRITERION_ARGS)}`")
    if run_info.get("stale"):
        w(f"- Ignored {len(run_info['stale'])} stale result(s) from earlier runs.")
    w("")
    w("Reproduce (from the repository root; about 10 minutes on 2 cores):")
    w("")
    w("```sh")
    w("python3 benches/report.py --run        # runs both crates' benches, writes BENCHMARKS.md")
    w("# or by hand, then regenerate from the results:")
    w("cargo bench " + " ".join(MAIN_BENCH_ARGS) + " -- " + " ".join(CRITERION_ARGS))
    w(
        "CARGO_TARGET_DIR=target cargo bench --manifest-path benches/compare/Cargo.toml "
        + " ".join(COMPARE_BENCH_ARGS)
        + " -- "
        + " ".join(CRITERION_ARGS)
    )
    w("python3 benches/report.py")
    w("```")
    w("")
    w(
        "(`report.py` reads `$CARGO_TARGET_DIR/criterion`, else `target/criterion`; with "
        "`--run` it points both crates there through `CRITERION_HOME`; pass "
        "`--criterion-dir` to read another folder.)"
    )
    w("")

    # Targets.
    hw = sz.get("hushwire", {})
    vz = sz.get("vodozemac", {})
    targets: list[list[str]] = []

    def target(name: str, goal: str, value: str, ok: bool | None) -> None:
        status = "–" if ok is None else ("met" if ok else "**missed**")
        targets.append([name, goal, value, status])

    r256 = ratio(get("round_trip", "hushwire", "256B"), get("round_trip", "floor", "256B"))
    target("Same-chain 256 B round trip vs floor", "≤ 1.3×", fmt_ratio(r256), r256 and r256 <= 1.3)
    v256 = ratio(get("vs_round_trip", "vodozemac", "256B"), get("vs_round_trip", "hushwire", "256B"))
    target(
        "Same-chain 256 B round trip vs vodozemac",
        "≥ 2.5× faster",
        "–" if v256 is None else f"{v256:.2f}× faster",
        v256 and v256 >= 2.5,
    )
    f64 = ratio(get("round_trip", "floor", "64KiB"), get("round_trip", "hushwire", "64KiB"))
    target(
        "64 KiB round trip, share of bare AEAD throughput",
        "≥ 90 %",
        "–" if f64 is None else f"{f64 * 100:.0f} %",
        f64 and f64 >= 0.9,
    )
    pp = ratio(get("ping_pong", "hushwire"), get("ping_pong", "floor"))
    target("Ping-pong vs floor", "≤ 1.1×", fmt_ratio(pp), pp and pp <= 1.1)
    ooo = ratio(
        get("out_of_order", "hushwire_newest_first", "1000"),
        get("out_of_order", "hushwire_in_order", "1000"),
    )
    target(
        "Out-of-order: 1,000 newest first, per message vs in order",
        "all decrypt; ≤ 1.5×",
        "–" if ooo is None else f"all 1,000 decrypt; {ooo:.2f}×",
        ooo and ooo <= 1.5,
    )
    ge = ratio(get("group_encrypt", "hushwire"), get("group_encrypt", "floor"))
    target("Group encrypt vs floor", "≤ 1.1×", fmt_ratio(ge), ge and ge <= 1.1)
    gd = ratio(get("group_decrypt", "hushwire"), get("group_decrypt", "floor"))
    target("Group decrypt vs floor", "≤ 1.1×", fmt_ratio(gd), gd and gd <= 1.1)
    su = ratio(get("setup_full", "hushwire"), get("setup_full", "floor"))
    target("PQ session setup vs its primitives", "≤ 1.2×", fmt_ratio(su), su and su <= 1.2)
    export = max(
        hw.get("session_export_initiator_bytes", 0), hw.get("session_export_responder_bytes", 0)
    )
    target(
        "Established session export",
        "≤ 1 KiB",
        f"{export} B" if export else "–",
        (export <= 1024) if export else None,
    )
    ring_256 = get("aead", "ring", "256B")
    rc_256 = get("aead", "rustcrypto", "256B")
    target(
        "AEAD fixed cost in a default build",
        "fast path without RUSTFLAGS",
        "–"
        if ring_256 is None
        else f"ring {fmt_time(ring_256)} vs RustCrypto {fmt_time(rc_256)} per 256 B seal",
        (ring_256 < rc_256) if ring_256 and rc_256 else None,
    )
    w("## Targets (issue P7)")
    w("")
    w(table(["Target", "Goal", "This run", "Status"], targets))
    w("")

    # Session.
    w("## 1:1 sessions (Double Ratchet with encrypted headers)")
    w("")
    w(
        "Same chain: one side sends, the other receives, no ratchet turn. Floor per message: two "
        "HMAC-SHA256 chain-key steps (one per side), a 12-byte nonce, the header AEAD (40 bytes) "
        "sealed and opened, the session tag (two HMAC-SHA256), the body AEAD sealed and opened."
    )
    w("")
    rows = []
    for op in ["encrypt", "decrypt", "round_trip"]:
        for label, size in SIZE_LABELS:
            h, f = get(op, "hushwire", label), get(op, "floor", label)
            rows.append(
                [
                    f"{op.replace('_', ' ')} {label}",
                    fmt_time(h),
                    fmt_time(f),
                    fmt_ratio(ratio(h, f)),
                    throughput(h, size),
                ]
            )
    h, f = get("ping_pong", "hushwire"), get("ping_pong", "floor")
    rows.append(["ping-pong (2 messages, 2 ratchet turns)", fmt_time(h), fmt_time(f), fmt_ratio(ratio(h, f)), ""])
    w(table(["Scenario", "hushwire", "floor", "ratio to floor", "hushwire throughput"], rows))
    w("")
    w(
        "Ping-pong floor, per message: one X25519 key generation, two X25519 DH (one per side), "
        "two root-step HKDFs, one failed header open (the receiver tries its current chain "
        "first) and the same-chain work."
    )
    w("")
    rows = []
    for n in ["40", "100", "1000"]:
        nf = get("out_of_order", "hushwire_newest_first", n)
        io = get("out_of_order", "hushwire_in_order", n)
        count = int(n)
        rows.append(
            [
                n,
                fmt_time(nf),
                fmt_time(None if nf is None else nf / count),
                fmt_time(None if io is None else io / count),
                fmt_ratio(ratio(nf, io)),
            ]
        )
    w("Out of order: N messages of 32 bytes decrypted newest first (default limits), beside the same N in order.")
    w("")
    w(table(["N", "newest first, total", "per message", "in order, per message", "ratio"], rows))
    w("")

    # Setup.
    w("## Session setup (PQXDH-style: X25519 + ML-KEM-768, Ed25519-signed prekeys)")
    w("")
    rows = []
    for group, name in [
        ("setup_publish", "responder publishes keys (account, 1 one-time X25519 + 1 one-time ML-KEM prekey, bundle)"),
        ("setup_initiate", "initiator: decode + verify bundle, build session, first encrypt"),
        ("setup_respond", "responder: build session from the prekey message, first decrypt"),
        ("setup_full", "full setup (all three)"),
    ]:
        h, f = get(group, "hushwire"), get(group, "floor")
        rows.append([name, fmt_time(h), fmt_time(f), fmt_ratio(ratio(h, f))])
    w(table(["Scenario", "hushwire", "floor", "ratio to floor"], rows))
    w("")

    # Groups, sealed, persistence.
    w("## Groups, sealed envelopes, persistence")
    w("")
    rows = []
    for group, name in [
        ("group_setup", "group setup: create (2 members), join, both distributions accepted"),
        ("group_encrypt", "group encrypt 256 B (AEAD + Ed25519 signature)"),
        ("group_decrypt", "group decrypt 256 B (Ed25519 verification + AEAD)"),
        ("sealed_seal", "sealed envelope: seal a 256 B session message"),
        ("sealed_open", "sealed envelope: open (incl. sender certificate validation)"),
        ("session_export", "session export (encrypted blob)"),
        ("session_import", "session import"),
    ]:
        h, f = get(group, "hushwire"), get(group, "floor")
        rows.append([name, fmt_time(h), fmt_time(f), fmt_ratio(ratio(h, f))])
    for n in ["1", "10", "100", "1000"]:
        h, f = get("sealed_seal_multi", "hushwire", n), get("sealed_seal_multi", "floor", n)
        rows.append(
            [
                f"multi-recipient seal, {n} recipient{'s' if n != '1' else ''}",
                fmt_time(h),
                fmt_time(f),
                fmt_ratio(ratio(h, f)),
            ]
        )
    w(table(["Scenario", "hushwire", "floor", "ratio to floor"], rows))
    w("")

    # vodozemac.
    w(f"## Beside vodozemac {vz.get('version', '')} (same run)")
    w("")
    w(
        "vodozemac's Olm is X3DH without post-quantum keys or prekey signatures (Matrix signs keys "
        "outside the library) and a Double Ratchet without header encryption; Megolm is a hash "
        "ratchet with one Ed25519 signature per message. Both use `SessionConfig::version_1`. "
        "vodozemac's out-of-order decryption keeps at most 40 skipped keys per chain, so that "
        "scenario stops at 40."
    )
    w("")
    rows = []
    for group, value, name in [
        ("vs_setup_full", "", "session setup (hushwire: PQ hybrid; vodozemac: X3DH)"),
        *[("vs_round_trip", l, f"same-chain round trip {l}") for l, _ in SIZE_LABELS],
        ("vs_ping_pong", "", "ping-pong (2 messages)"),
        ("vs_out_of_order", "40", "out of order, 40 newest first"),
        ("vs_group_encrypt", "", "group encrypt 256 B (vodozemac: Megolm)"),
        ("vs_group_decrypt", "", "group decrypt 256 B (vodozemac: Megolm)"),
        ("vs_session_export", "", "session export / pickle (encrypted)"),
        ("vs_session_import", "", "session import / unpickle"),
    ]:
        fh, fv = ("hushwire", "vodozemac") if not value else ("hushwire", "vodozemac")
        h, v = get(group, fh, value), get(group, fv, value)
        r = ratio(h, v)
        rows.append(
            [
                name,
                fmt_time(h),
                fmt_time(v),
                fmt_ratio(r),
                "–" if r is None else (f"{1 / r:.2f}× faster" if r < 1 else f"{r:.2f}× slower"),
            ]
        )
    w(table(["Scenario", "hushwire", "vodozemac", "hushwire / vodozemac", "hushwire is"], rows))
    w("")

    # Primitives.
    w("## The primitives themselves")
    w("")
    rows = []
    for fn, name in [
        ("x25519_keygen", "X25519 key generation (fixed base)"),
        ("x25519_dh", "X25519 DH (variable base)"),
        ("ed25519_keygen", "Ed25519 key generation"),
        ("ed25519_sign_100B", "Ed25519 sign, 100 B"),
        ("ed25519_verify_strict_100B", "Ed25519 strict verify, 100 B"),
        ("ed25519_identity_key_validate", "identity key validation (decompress, subgroup check, to X25519)"),
        ("mlkem768_keygen", "ML-KEM-768 key generation"),
        ("mlkem768_encapsulate", "ML-KEM-768 encapsulation (incl. key parsing)"),
        ("mlkem768_decapsulate", "ML-KEM-768 decapsulation"),
        ("hmac_sha256_chain_step", "chain step (2 × HMAC-SHA256)"),
        ("hkdf_sha256_96B", "root step (HKDF-SHA256, 96 B)"),
        ("chacha20poly1305_seal_256B", "ChaCha20-Poly1305 seal 256 B (ring)"),
        ("chacha20poly1305_seal_64KiB", "ChaCha20-Poly1305 seal 64 KiB (ring)"),
    ]:
        rows.append([name, fmt_time(get("primitive", fn))])
    w(table(["Primitive", "median"], rows))
    w("")
    w("### The AEAD's fixed cost")
    w("")
    rows = []
    for label, size in [("256B", 256), ("64KiB", 65536)]:
        a, b = get("aead", "ring", label), get("aead", "rustcrypto", label)
        rows.append([label, fmt_time(a), fmt_time(b), fmt_ratio(ratio(b, a))])
    w(table(["ChaCha20-Poly1305 seal", "ring (hushwire)", "RustCrypto `chacha20poly1305` 0.11", "RustCrypto / ring"], rows))
    w("")
    w(
        "Both pick their AVX2 code at run time. In RustCrypto's `poly1305` 0.9 (under "
        "`chacha20poly1305` 0.11), the block functions of the AVX2 backend carry "
        "`#[target_feature(enable = \"avx2\")]`, but the per-message key setup does not: "
        "`backend::avx2::State::new` and the `Mul`, `reduce` and `From` helpers it calls to "
        "precompute r² (`backend/avx2/helpers.rs`) are plain functions full of AVX2 intrinsics. "
        "In a default build (baseline x86-64, no `-C target-cpu`) the AVX2 intrinsics "
        "cannot be inlined into functions compiled without AVX2, so each becomes an "
        "out-of-line call: a fixed cost on every message that "
        "`-C target-cpu=native` removes (the whole crate is then compiled with AVX2). ring "
        "dispatches at run time to hand-written assembly for the whole ChaCha20-Poly1305 "
        "operation, so its default build already has the fast path. hushwire uses ring's "
        "ChaCha20-Poly1305 (`src/aead.rs`); the wire is the same RFC 8439 construction, the test "
        "vectors cross-check it against RustCrypto's, and users set no RUSTFLAGS."
    )
    w("")

    # Where the time goes (computed from this run's primitive medians).
    w("## Where the time goes")
    w("")
    prim = {k[1]: v for k, v in results.items() if k[0] == "primitive"}
    dh, kg = prim.get("x25519_dh"), prim.get("x25519_keygen")
    idv = prim.get("ed25519_identity_key_validate")
    ver, sig = prim.get("ed25519_verify_strict_100B"), prim.get("ed25519_sign_100B")

    def share(part: float | None, whole: float | None) -> str:
        r = ratio(part, whole)
        return "–" if r is None else f"{r * 100:.0f} %"

    notes = []
    h, f = get("round_trip", "hushwire", "256B"), get("round_trip", "floor", "256B")
    if h and f:
        notes.append(
            f"**Same chain, 256 B**: hushwire spends {fmt_time(h - f)} per round trip beyond the floor: "
            "wire encoding and parsing, the output allocations, the copies into them, and the "
            "transactional bookkeeping. The floor itself is four AEAD calls and six HMAC-SHA256."
        )
    h, a = get("round_trip", "hushwire", "64KiB"), get("round_trip", "floor", "64KiB")
    if h and a:
        notes.append(
            f"**64 KiB**: the bare AEAD seal and open (the floor, {fmt_time(a)}) are "
            f"{share(a, h)} of the round trip; the rest is the two 64 KiB copies ring's in-place "
            "API requires (the plaintext into the outgoing message, the ciphertext into the "
            "returned plaintext) and their allocations. A perf profile of this scenario shows "
            "only ring's `chacha20_poly1305_seal_avx2`/`open_avx2` and `memmove` as significant."
        )
    h = get("ping_pong", "hushwire")
    if h and dh and kg:
        notes.append(
            f"**Ping-pong**: per iteration 4 X25519 DH ({fmt_time(4 * dh)}, {share(4 * dh, h)}) and "
            f"2 key generations ({fmt_time(2 * kg)}, {share(2 * kg, h)}). hushwire does exactly two DH "
            "per message (one to send, one to receive): the receive side defers its sending half to "
            "the next encrypt."
        )
    h = get("setup_full", "hushwire")
    if h and dh:
        km = [prim.get(k) for k in ("mlkem768_keygen", "mlkem768_encapsulate", "mlkem768_decapsulate")]
        kem = None if None in km else 2 * km[0] + km[1] + km[2]
        notes.append(
            f"**Setup**: ten X25519 DH ({fmt_time(10 * dh)}, {share(10 * dh, h)}), two ML-KEM key "
            f"generations, one encapsulation and one decapsulation ({fmt_time(kem)}, {share(kem, h)}), "
            f"three signatures and two verifications, two identity-key validations ({fmt_time(None if idv is None else 2 * idv)}). "
            "The responder keeps each ML-KEM prekey's expanded decapsulation key in memory (only the "
            "seed is persisted): decapsulating from the seed would redo a key generation per inbound "
            "session."
        )
    h, f = get("group_decrypt", "hushwire"), get("group_encrypt", "hushwire")
    if h and f and ver and sig:
        notes.append(
            f"**Groups**: the signature dominates. A group encrypt ({fmt_time(f)}) is an Ed25519 "
            f"signature (100-byte primitive: {fmt_time(sig)}) plus one AEAD and a chain step; a "
            f"decrypt ({fmt_time(h)}) is a strict verification ({fmt_time(ver)}) plus the same. "
            "Group messages sign about 400 bytes, hence slightly more than the primitive figures."
        )
    h, f = get("sealed_open", "hushwire"), get("sealed_open", "floor")
    if h and f and idv:
        notes.append(
            f"**Sealed open** ({fmt_time(h)}; floor {fmt_time(f)}): two DH, two strict "
            "verifications (the server certificate and the sender certificate) and identity-key "
            "validation make it up. hushwire validates three identity keys per open where the "
            f"floor validates one (2 × {fmt_time(idv)} more work): the sender's key from the "
            "envelope, then the identity key and the server key inside the decoded certificate "
            "(each a decompression and a constant-time subgroup check). Seal is two DH and a key "
            "generation (a perf profile shows almost all of it in X25519 field arithmetic)."
        )
    h = get("session_import", "hushwire")
    if h and idv:
        notes.append(
            f"**Session import**: the two identity-key validations ({fmt_time(2 * idv)}) are "
            f"{share(2 * idv, h)} of it, and they are in its floor: SPEC.md §2.3 requires every "
            "identity key in a restored blob to pass the full validation, subgroup check "
            "included, although the crate validated it before storing it and the blob is "
            "authenticated. Skipping the subgroup check there would make imports several times "
            "faster, but it is a specification change. Export (postcard encoding into a "
            "zeroizing buffer, then the AEAD) has no public-key work."
        )
    notes.append(
        "**vodozemac** computes its ratchet public key from the secret on every encrypt (a "
        "fixed-base scalar multiplication per message) and encrypts with AES-256-CBC plus "
        "HMAC-SHA-256; hushwire's same-chain message is two ChaCha20-Poly1305 calls and "
        "HMAC-SHA-256 only, with no public-key operation. Ping-pong is two X25519 DH and one "
        "key generation per message in both libraries (callgrind counts about the same "
        "instructions for both), so the two ping-pong medians differ by this machine's "
        "run-to-run variance, which is large on a shared 2-CPU virtual machine."
    )
    for n in notes:
        w(f"- {n}")
    w("")

    # Sizes.
    w("## State and wire sizes")
    w("")
    rows = [
        ["established session, exported (encrypted blob), initiator / responder",
         f"{hw.get('session_export_initiator_bytes', '–')} B / {hw.get('session_export_responder_bytes', '–')} B",
         f"{vz.get('session_pickle_initiator_encrypted_bytes', '–')} B / {vz.get('session_pickle_responder_encrypted_bytes', '–')} B encrypted pickle (base64); "
         f"{vz.get('session_pickle_initiator_json_bytes', '–')} B / {vz.get('session_pickle_responder_json_bytes', '–')} B JSON pickle"],
        ["bytes per stored skipped message key, exported",
         f"{hw.get('exported_bytes_per_skipped_key', '–')} B (in memory: {hw.get('memory_bytes_per_skipped_key', '–')} B)",
         f"{vz.get('pickle_json_bytes_per_skipped_key', 0):.1f} B (JSON pickle)"],
        ["state blob overhead (header, nonce, tag)", f"{hw.get('state_blob_overhead_bytes', '–')} B", ""],
        ["1:1 message overhead (256 B plaintext)", f"{hw.get('ratchet_message_overhead_bytes', '–')} B",
         f"{vz.get('olm_message_overhead_bytes', '–')} B"],
        ["first (prekey) message overhead", f"{hw.get('prekey_message_overhead_bytes', '–')} B (carries the 1,088-byte ML-KEM ciphertext)",
         f"{vz.get('olm_prekey_message_overhead_bytes', '–')} B"],
        ["prekey bundle", f"{hw.get('bundle_bytes', '–')} B", ""],
        ["group message overhead (256 B plaintext)", f"{hw.get('group_message_overhead_bytes', '–')} B",
         f"{vz.get('megolm_message_overhead_bytes', '–')} B (Megolm)"],
        ["sealed envelope of a session message", f"{hw.get('sealed_envelope_bytes_for_256B_message', '–')} B for a {hw.get('sealed_inner_message_bytes', '–')} B message (certificate, metadata, padding bucket)", ""],
        ["multi-recipient seal, per recipient", f"{hw.get('multi_recipient_bytes_per_recipient', '–')} B", ""],
    ]
    w(table(["What", "hushwire", "vodozemac"], rows))
    w("")
    w(
        f"Skipped-key figures are measured by storing {sz.get('skipped_keys_measured', '–')} "
        "keys and dividing the growth of the export by their number."
    )
    w("")
    notes = ROOT / "benches" / "NOTES.md"
    if notes.exists():
        w(notes.read_text().rstrip())
        w("")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", action="store_true", help="run the benches first")
    p.add_argument("--criterion-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--sizes", type=Path, help="read sizes from this JSON instead of running the sizes binary")
    args = p.parse_args()
    criterion_dir = (args.criterion_dir or default_criterion_dir()).resolve()
    env = dict(os.environ)
    # Both crates build into one target folder (shared dependencies are built once).
    env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    env["CRITERION_HOME"] = str(criterion_dir)
    state_path = criterion_dir / "report-run.json"

    if args.run:
        info = {"load_before": loadavg(), "start": time.time()}
        run(["cargo", "bench", *MAIN_BENCH_ARGS, "--", *CRITERION_ARGS], env)
        run(
            ["cargo", "bench", "--manifest-path", COMPARE_MANIFEST, *COMPARE_BENCH_ARGS, "--", *CRITERION_ARGS],
            env,
        )
        info["load_after"] = loadavg()
        info["date"] = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        criterion_dir.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(info))
    if state_path.exists():
        info = json.loads(state_path.read_text())
    else:
        info = {"load_before": "unknown (not run by report.py)", "load_after": loadavg(), "start": None,
                "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    results, stale = read_results(criterion_dir, info.get("start"))
    if not results:
        print(f"no criterion results under {criterion_dir}", file=sys.stderr)
        return 1
    info["stale"] = stale
    cpus = os.cpu_count() or 1
    try:
        info["busy"] = any(float(x) > cpus for x in (info["load_before"].split()[:1] + info["load_after"].split()[:1]))
    except ValueError:
        info["busy"] = False
    sz = json.loads(args.sizes.read_text()) if args.sizes else sizes(env)
    args.out.write_text(build(results, sz, info) + "\n")
    print(f"wrote {args.out} from {len(results)} results in {criterion_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
