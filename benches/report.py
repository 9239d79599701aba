#!/usr/bin/env python3
"""Turns criterion runs into BENCHMARKS.md. The numbers in that file come from here only.

    python3 benches/report.py --run      # run every bench in both builds (~27 min on 2 cores), then write
    python3 benches/report.py            # write from the results of the last run

hushwire has two AEAD backends (README "AEAD backends"): the default build uses RustCrypto's
`chacha20poly1305`, the `ring` feature ring's. Every figure is measured in both builds, one
after the other. With --run, for each build (default, then `--features ring`), in this order
and with the same criterion settings:

    cargo bench [--features ring] --bench group --bench persist ... (every benches/*.rs) -- --warm-up-time 1 --measurement-time 2
    cargo bench [--features ring] --manifest-path benches/compare/Cargo.toml --bench compare -- (the same)

with CRITERION_HOME pointing both at that build's results folder (default:
$CARGO_TARGET_DIR/criterion/<build>, or target/criterion/<build>; both crates build into that
target folder), then `cargo run --release --manifest-path benches/compare/Cargo.toml` for the
state and wire sizes (the same in both builds). It reads the median of each benchmark from
<results>/<build>/**/new/estimates.json (and its name from benchmark.json beside it), and writes
the tables of both builds, the targets of issues P7 and P20 (met or missed), the machine and the
load while each build ran. Standard library only (Python 3.8+).
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
# (name, cargo feature arguments, label) of each build, in the order they run.
BUILDS = [
    ("default", [], "default build: RustCrypto `chacha20poly1305`"),
    ("ring", ["--features", "ring"], "`--features ring` build: ring's ChaCha20-Poly1305"),
]


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


def source() -> str:
    """The commit the working tree is at, and whether tracked files differ from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True, capture_output=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        text=True,
        capture_output=True,
    ).stdout.strip()
    return f"commit {head or 'unknown'}{' with uncommitted changes' if dirty else ''}"


def machine_info(measured: list[str]) -> list[str]:
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
    sources = sorted(set(measured)) or ["unknown (not run by report.py)"]
    return [
        f"- CPU: {model}, {cpus} CPUs ({simd or 'no AVX2'}); {platform.system()} {platform.release()}",
        f"- Toolchain: {rustc}; default release profile, no RUSTFLAGS, no `target-cpu`",
        f"- Source measured: {', '.join(sources)}; this file written at {source()}",
    ]


def targets_for(get, hw: dict, build_name: str) -> dict[str, tuple[str, bool | None]]:
    """{target name: (value, met)} for one build."""
    out: dict[str, tuple[str, bool | None]] = {}

    def target(name: str, value: str, ok) -> None:
        out[name] = (value, None if ok is None else bool(ok))

    r256 = ratio(get("round_trip", "hushwire", "256B"), get("round_trip", "floor", "256B"))
    target("p7_floor", fmt_ratio(r256), None if r256 is None else r256 <= 1.3)
    v256 = ratio(get("vs_round_trip", "vodozemac", "256B"), get("vs_round_trip", "hushwire", "256B"))
    vz_text = "–" if v256 is None else f"{v256:.2f}× faster"
    target("p7_vodozemac", vz_text, None if v256 is None else v256 >= 2.5)
    f64 = ratio(get("round_trip", "floor", "64KiB"), get("round_trip", "hushwire", "64KiB"))
    target("aead_share", "–" if f64 is None else f"{f64 * 100:.1f} %", None if f64 is None else f64 >= 0.9)
    pp = ratio(get("ping_pong", "hushwire"), get("ping_pong", "floor"))
    target("ping_pong", fmt_ratio(pp), None if pp is None else pp <= 1.1)
    ooo = ratio(
        get("out_of_order", "hushwire_newest_first", "1000"),
        get("out_of_order", "hushwire_in_order", "1000"),
    )
    target("ooo", "–" if ooo is None else f"all 1,000 decrypt; {ooo:.2f}×", None if ooo is None else ooo <= 1.5)
    ge = ratio(get("group_encrypt", "hushwire"), get("group_encrypt", "floor"))
    target("group_encrypt", fmt_ratio(ge), None if ge is None else ge <= 1.1)
    gd = ratio(get("group_decrypt", "hushwire"), get("group_decrypt", "floor"))
    target("group_decrypt", fmt_ratio(gd), None if gd is None else gd <= 1.1)
    su = ratio(get("setup_full", "hushwire"), get("setup_full", "floor"))
    target("setup", fmt_ratio(su), None if su is None else su <= 1.2)
    export = max(
        hw.get("session_export_initiator_bytes", 0), hw.get("session_export_responder_bytes", 0)
    )
    target("export", f"{export} B" if export else "–", (export <= 1024) if export else None)
    if build_name == "default":
        target("p20_vodozemac", vz_text, None if v256 is None else v256 >= 2.0)
    else:
        target("p20_floor", fmt_ratio(r256), None if r256 is None else r256 <= 1.2)
    return out


TARGETS = [
    ("p20_vodozemac", "P20", "Same-chain 256 B round trip vs vodozemac, default build", "≥ 2× faster"),
    ("p20_floor", "P20", "Same-chain 256 B round trip vs its floor, `ring` build", "≤ 1.2×"),
    ("aead_share", "P7, P20", "64 KiB round trip, share of the bare AEAD of the same backend", "≥ 90 %"),
    ("p7_floor", "P7", "Same-chain 256 B round trip vs floor", "≤ 1.3×"),
    ("p7_vodozemac", "P7", "Same-chain 256 B round trip vs vodozemac", "≥ 2.5× faster"),
    ("ping_pong", "P7", "Ping-pong vs floor", "≤ 1.1×"),
    ("ooo", "P7", "Out-of-order: 1,000 newest first, per message vs in order", "all decrypt; ≤ 1.5×"),
    ("group_encrypt", "P7", "Group encrypt vs floor", "≤ 1.1×"),
    ("group_decrypt", "P7", "Group decrypt vs floor", "≤ 1.1×"),
    ("setup", "P7", "PQ session setup vs its primitives", "≤ 1.2×"),
    ("export", "P7", "Established session export", "≤ 1 KiB"),
]


def per_build(results: dict, sz: dict, build_name: str, label: str) -> list[str]:
    """The tables and notes of one build."""

    def get(group: str, function: str, value: str = "") -> float | None:
        return results.get((group, function, value))

    hw = sz.get("hushwire", {})
    vz = sz.get("vodozemac", {})
    short = "default build" if build_name == "default" else "`ring` build"
    aead_id = "rustcrypto" if build_name == "default" else "ring"
    aead_name = "RustCrypto" if build_name == "default" else "ring"
    out: list[str] = []
    w = out.append
    w(f"## {label[0].upper()}{label[1:]}")
    w("")
    # Session.
    w(f"### 1:1 sessions (Double Ratchet with encrypted headers), {short}")
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
    w(f"### Session setup (PQXDH-style: X25519 + ML-KEM-768, Ed25519-signed prekeys), {short}")
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
    w(f"### Groups, sealed envelopes, persistence, {short}")
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
        ("group_import", "group receiver import (2 members, one sender key held)"),
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

    # Scale: groups by size (benches/group_scale.rs), sessions on cores (benches/cores.rs).
    w(f"### Groups by size, sessions on cores, {short}")
    w("")
    w(
        "A removal from the side of one remaining member (r = n − 1 remain): apply the change "
        "(verify, rotate), seal the new distribution once for the r − 1 others "
        "(`sealed::seal_multi`; beside it the same over r − 1 1:1 sessions), open and accept the "
        "r − 1 others' keys; the member-side total is apply + multi-recipient seal + receive. "
        "Setup floors: Ed25519 key generation and a signature over a roster of n members "
        "(create); a strict verification and n identity-key validations (join). Bytes per "
        "removal are printed by `cargo bench --bench group_scale`."
    )
    w("")
    rows = []
    for n in ["10", "100", "1000"]:
        create, fcreate = get("group_scale_setup", "create", n), get("group_scale_setup", "floor_create", n)
        join, fjoin = get("group_scale_setup", "join", n), get("group_scale_setup", "floor_join", n)
        rows.append(
            [
                n,
                fmt_time(get("group_scale_encrypt", "hushwire", n)),
                fmt_time(get("group_scale_decrypt", "hushwire", n)),
                f"{fmt_time(create)} ({fmt_ratio(ratio(create, fcreate))})",
                f"{fmt_time(join)} ({fmt_ratio(ratio(join, fjoin))})",
                fmt_time(get("group_scale_removal", "apply", n)),
                fmt_time(get("group_scale_removal", "seal_multi", n)),
                fmt_time(get("group_scale_removal", "seal_per_recipient", n)),
                fmt_time(get("group_scale_removal", "receive", n)),
                fmt_time(get("group_scale_removal", "member_total", n)),
            ]
        )
    w(
        table(
            [
                "members",
                "encrypt 256 B",
                "decrypt 256 B",
                "create (to floor)",
                "join (to floor)",
                "removal: apply",
                "seal multi",
                "seal per recipient",
                "receive r − 1",
                "member total",
            ],
            rows,
        )
    )
    w("")
    one, two = get("cores", "threads", "1"), get("cores", "threads", "2")
    rows = [
        ["1 thread", fmt_time(one), fmt_time(None if one is None else one / 10_000), "1.00×"],
        ["2 threads", fmt_time(two), fmt_time(None if two is None else two / 10_000), fmt_ratio(ratio(one, two))],
    ]
    w("10,000 independent sessions, each decrypting one prepared 256 B message (`std::thread::scope`, the sessions split in halves).")
    w("")
    w(table(["Threads", "all 10,000", "per session", "speed-up"], rows))
    w("")

    # Scale: a device with MAX_PEERS peers persisted as records (benches/scale.rs).
    g = "scale_10000_peers"
    rec_enc, whole_enc = get(g, "encrypt_for+persist_records"), get(g, "encrypt_for+persist_whole_account")
    cold, full = get(g, "cold_start_account+book+one_peer"), get(g, "full_restore_whole_account")
    rows = [
        ["`encrypt_for` + the records it changed", fmt_time(rec_enc), "1.00×"],
        ["`decrypt_from` + the records it changed", fmt_time(get(g, "decrypt_from+persist_records")), ""],
        ["`encrypt_for` + the whole device blob", fmt_time(whole_enc), fmt_ratio(ratio(whole_enc, rec_enc))],
        ["cold start: account record, identity book, one peer", fmt_time(cold), "1.00×"],
        ["full restore of the whole device blob", fmt_time(full), fmt_ratio(ratio(full, cold))],
    ]
    w(
        "A device with 10,000 peers (SPEC.md §11.9): a message with only the changed records "
        "sealed, beside sealing the whole device blob; a cold start that loads one peer, beside "
        "a full restore. Bytes written per message are printed by `cargo bench --bench scale`."
    )
    w("")
    w(table(["Operation", "time", "to the first row of its pair"], rows))
    w("")

    # vodozemac.
    w(f"### Beside vodozemac {vz.get('version', '')} (same run), {short}")
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
        ("vs_group_receiver_import", "", "group receiver import / inbound Megolm unpickle"),
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
    w(f"### The primitives themselves, {short}")
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
        ("chacha20poly1305_seal_256B", f"ChaCha20-Poly1305 seal 256 B ({aead_name})"),
        ("chacha20poly1305_seal_64KiB", f"ChaCha20-Poly1305 seal 64 KiB ({aead_name})"),
    ]:
        rows.append([name, fmt_time(get("primitive", fn))])
    w(table(["Primitive", "median"], rows))
    w("")
    w(f"#### The AEAD, {short}")
    w("")
    rows = []
    for label, size in [("256B", 256), ("64KiB", 65536)]:
        a, b = get("aead", "rustcrypto", label), get("aead", "ring", label)
        rows.append([label, fmt_time(a), fmt_time(b) if build_name == "ring" else "not in this build",
                     fmt_ratio(ratio(a, b))])
    w(table(["ChaCha20-Poly1305 seal, fresh key", "RustCrypto `chacha20poly1305` 0.11", "ring 0.17", "RustCrypto / ring"], rows))
    w("")
    w(
        "RustCrypto's fixed cost per call is mostly `poly1305` 0.9's AVX2 key setup and "
        "finalization, which are compiled without the AVX2 target feature in a default build: "
        "`docs/poly1305-avx2-target-feature.md` has the functions, a patch for upstream and its "
        "measurement, and README (\"AEAD backends\") how an application can build around it."
    )
    w("")
    fresh = get("aead_header_key", aead_id, "fresh")
    prepared = get("aead_header_key", aead_id, "prepared")
    w(
        f"A 40-byte header opened under a key prepared for that call: {fmt_time(fresh)}; under a "
        f"key prepared once and reused: {fmt_time(prepared)} ({aead_name}). Neither backend has "
        "a key schedule worth keeping (ChaCha20 uses the key as it is; the Poly1305 key is new "
        "for every nonce), so hushwire prepares a key per call and keeps no extra copy of it."
    )
    w("")

    # Where the time goes (computed from this run's primitive medians).
    w(f"### Where the time goes, {short}")
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
            "transactional bookkeeping. The floor itself is four AEAD calls and six HMAC-SHA256 "
            "(a unit test, `aead_calls_per_message_are_the_protocol_minimum`, checks that a "
            "same-chain message costs exactly two seals and two opens)."
        )
    h, a = get("round_trip", "hushwire", "64KiB"), get("round_trip", "floor", "64KiB")
    if h and a:
        if build_name == "ring":
            rest = (
                "the two 64 KiB copies ring's in-place API requires, the plaintext into the "
                "outgoing message and the ciphertext into the returned plaintext, and their "
                "allocations"
            )
        else:
            rest = (
                "zero-filling the two 64 KiB outputs, which RustCrypto then encrypts or decrypts "
                "into straight from the input, and their allocations"
            )
        if a >= h:
            notes.append(
                f"**64 KiB**: the bare AEAD seal and open (the floor, {fmt_time(a)}) measured "
                f"{share(a, h)} of the round trip: the round trip's own work ({rest}) is within "
                "this run's noise."
            )
        else:
            notes.append(
                f"**64 KiB**: the bare AEAD seal and open (the floor, {fmt_time(a)}) are "
                f"{share(a, h)} of the round trip; the rest is {rest}."
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
            f"**Session and group import** repeat no curve arithmetic on the keys of an "
            "authenticated blob (SPEC.md §11.8): a key was validated in full when first "
            "accepted, so a restore checks its bytes only (canonical, not of small order), "
            "decodes it when first used, and derives the ratchet and group signing public keys "
            "when next needed. A full identity-key validation costs "
            f"{fmt_time(idv)}; the floors are the blob key (HKDF) and the AEAD. Export "
            "(postcard encoding into a zeroizing buffer, then the AEAD) has no public-key work."
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

    return out


def build(all_results: dict, sz: dict, infos: dict) -> str:
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "Generated by `benches/report.py` from criterion runs; do not edit the numbers by hand. "
        "Every figure is a criterion **median**. Each hushwire operation is measured beside its "
        "**floor** (the primitive work the design must do for it, written directly against the "
        "same primitive crates, on preallocated buffers: `benches/common/floor.rs` and each "
        "bench's floor functions) and, where vodozemac can do the same, beside **vodozemac** "
        "(`benches/compare`), all in the same run."
    )
    w("")
    w(
        "hushwire has two AEAD backends with the same wire (README, \"AEAD backends\"), so every "
        "figure is given twice: for the **default build** (RustCrypto `chacha20poly1305`, pure "
        "Rust, what `cargo add hushwire` gives) and for the **`ring` build** (`--features ring`, "
        "ring's ChaCha20-Poly1305). Each build's floors use that build's AEAD. The two builds run "
        "one after the other, so compare figures within a build first."
    )
    w("")
    w("## Run")
    w("")
    out.extend(machine_info([i["source"] for i in infos.values() if i.get("source")]))
    w(f"- Criterion settings: `{' '.join(CRITERION_ARGS)}`")
    for name, _, label in BUILDS:
        info = infos.get(name)
        if not info:
            w(f"- {label}: not run")
            continue
        w(
            f"- {label[0].upper()}{label[1:]}: {info['date']}; load average (1, 5, 15 min) before: "
            f"{info['load_before']}, after: {info['load_after']}"
            + (f"; ignored {len(info['stale'])} stale result(s)" if info.get("stale") else "")
        )
    if any(i.get("busy") for i in infos.values()):
        w(
            "- **The machine was busy during this run** (load above its CPU count), so absolute "
            "times are inflated and ratios noisier than on an idle machine. Re-run the command "
            "below on an idle machine for clean numbers."
        )
    w("")
    w("Reproduce (from the repository root; about 20 minutes on 2 cores):")
    w("")
    w("```sh")
    w("python3 benches/report.py --run        # runs both crates' benches in both builds, writes BENCHMARKS.md")
    w("# or by hand, then regenerate from the results:")
    for name, feats, _ in BUILDS:
        f = (" " + " ".join(feats)) if feats else ""
        w(
            f"CRITERION_HOME=target/criterion/{name} cargo bench{f} "
            + " ".join(MAIN_BENCH_ARGS) + " -- " + " ".join(CRITERION_ARGS)
        )
        w(
            f"CRITERION_HOME=target/criterion/{name} CARGO_TARGET_DIR=target cargo bench{f} "
            "--manifest-path benches/compare/Cargo.toml "
            + " ".join(COMPARE_BENCH_ARGS) + " -- " + " ".join(CRITERION_ARGS)
        )
    w("python3 benches/report.py")
    w("```")
    w("")
    w(
        "(`report.py` reads `$CARGO_TARGET_DIR/criterion/<build>`, else `target/criterion/<build>`; "
        "with `--run` it points both crates there through `CRITERION_HOME`; pass "
        "`--criterion-dir` to read another folder, `--builds default` to run or read one build.)"
    )
    w("")

    gets = {
        name: (lambda r: (lambda g, f, v="": r.get((g, f, v))))(all_results.get(name, {}))
        for name, _, _ in BUILDS
    }
    hw = sz.get("hushwire", {})
    vz = sz.get("vodozemac", {})

    # Headline figures side by side.
    w("## Headline figures, both builds")
    w("")
    rows = []
    for group, fn, value, name in [
        ("vs_round_trip", "hushwire", "256B", "same-chain round trip, 256 B"),
        ("vs_round_trip", "vodozemac", "256B", "vodozemac, same-chain round trip, 256 B (same run)"),
        ("round_trip", "floor", "256B", "its floor (4 AEAD calls, 6 HMAC-SHA256)"),
        ("round_trip", "hushwire", "64KiB", "same-chain round trip, 64 KiB"),
        ("round_trip", "floor", "64KiB", "its floor (the bare AEAD seal and open)"),
        ("aead", "rustcrypto", "256B", "RustCrypto ChaCha20-Poly1305 seal, 256 B"),
        ("aead", "ring", "256B", "ring ChaCha20-Poly1305 seal, 256 B"),
        ("ping_pong", "hushwire", "", "ping-pong (2 messages, 2 ratchet turns)"),
        ("setup_full", "hushwire", "", "full PQ session setup"),
    ]:
        rows.append([name] + [fmt_time(gets[b](group, fn, value)) for b, _, _ in BUILDS])
    for name, (a, b) in [
        ("hushwire vs vodozemac, 256 B round trip", ("vs_round_trip", "256B")),
    ]:
        cells = []
        for bname, _, _ in BUILDS:
            g = gets[bname]
            r = ratio(g(a, "vodozemac", b), g(a, "hushwire", b))
            cells.append("–" if r is None else f"{r:.2f}× faster")
        rows.append([name] + cells)
    w(table(["Figure", "default build (RustCrypto)", "`ring` build"], rows))
    w("")
    w(
        "README's headline numbers are the default build's. The `ring` build's RustCrypto row is "
        "the same code measured again in the second run."
    )
    w("")

    # Targets.
    w("## Targets (issues P7 and P20)")
    w("")
    per = {name: targets_for(gets[name], hw, name) for name, _, _ in BUILDS}
    rows = []
    for key, issue, name, goal in TARGETS:
        cells = []
        for bname, _, _ in BUILDS:
            got = per[bname].get(key)
            if got is None:
                cells.append("n/a")
            else:
                value, ok = got
                status = "" if ok is None else (" (met)" if ok else " (**missed**)")
                cells.append(f"{value}{status}")
        rows.append([name, issue, goal] + cells)
    w(table(["Target", "Issue", "Goal", "default build", "`ring` build"], rows))
    w("")

    for name, _, label in BUILDS:
        if all_results.get(name):
            out.extend(per_build(all_results[name], sz, name, label))
        else:
            w(f"## {label[0].upper()}{label[1:]}")
            w("")
            w("Not run.")
            w("")

    # Sizes.
    w("## State and wire sizes (both builds)")
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
    p.add_argument("--builds", default=",".join(b[0] for b in BUILDS), help="builds to run (default,ring)")
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--sizes", type=Path, help="read sizes from this JSON instead of running the sizes binary")
    args = p.parse_args()
    criterion_root = (args.criterion_dir or default_criterion_dir()).resolve()
    wanted = [b for b in BUILDS if b[0] in args.builds.split(",")]
    base_env = dict(os.environ)
    # Both crates build into one target folder (shared dependencies are built once).
    base_env.setdefault("CARGO_TARGET_DIR", str(ROOT / "target"))
    cpus = os.cpu_count() or 1

    all_results: dict[str, dict] = {}
    infos: dict[str, dict] = {}
    for name, feats, _ in wanted:
        criterion_dir = criterion_root / name
        env = dict(base_env)
        env["CRITERION_HOME"] = str(criterion_dir)
        state_path = criterion_dir / "report-run.json"
        if args.run:
            info = {"load_before": loadavg(), "start": time.time(), "source": source()}
            run(["cargo", "bench", *feats, *MAIN_BENCH_ARGS, "--", *CRITERION_ARGS], env)
            run(
                ["cargo", "bench", *feats, "--manifest-path", COMPARE_MANIFEST, *COMPARE_BENCH_ARGS,
                 "--", *CRITERION_ARGS],
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
            continue
        info["stale"] = stale
        try:
            info["busy"] = any(
                float(x) > cpus for x in (info["load_before"].split()[:1] + info["load_after"].split()[:1])
            )
        except ValueError:
            info["busy"] = False
        all_results[name] = results
        infos[name] = info
    if not all_results:
        return 1
    sz = json.loads(args.sizes.read_text()) if args.sizes else sizes(base_env)
    args.out.write_text(build(all_results, sz, infos) + "\n")
    print(f"wrote {args.out} from {sum(len(r) for r in all_results.values())} results in {criterion_root}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
