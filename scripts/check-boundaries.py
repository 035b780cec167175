#!/usr/bin/env python3
"""Checks the workspace's crate boundaries from `cargo metadata` (docs/ARCHITECTURE.md).

1. Each workspace crate depends only on the workspace crates it is allowed to (normal, build
   and dev dependencies alike). In particular no crate but the root binary depends on the
   provider, and the CA does not.
2. The pure crates reach no IO crate, not even transitively (normal and build edges): no
   async runtime, sockets, database, HTTP or LDAP client, no file-backed temp dirs.
3. Persistence is a layer: SQL (`sqlx::`) and the pool (`.pool()`) appear in the crates'
   sources only inside repository modules (`store.rs`, `store/`, and coeur-storage's `db.rs` and `bus.rs`).

Exits 1 with one line per breach.
"""
import json
import pathlib
import subprocess
import sys

ALLOWED = {
    "coeur-common": set(),
    "coeur-oauth": {"coeur-common", "coeur-pki"},
    "coeur-pki": {"coeur-common"},
    "coeur-storage": {"coeur-oauth"},
    "coeur-web": {"coeur-oauth"},
    "coeur-resource-server": {"coeur-common", "coeur-oauth", "coeur-web"},
    # A relying party of any provider: the shared pure types (randomness) only.
    "coeur-rp": {"coeur-common"},
    # The directory: a relying party and resource server of its own, never the provider.
    "coeur-directory": {"coeur-common", "coeur-web", "coeur-resource-server", "coeur-rp"},
    # The offer (ROR): reaches the provider through OIDC and the directory through its FHIR
    # API, never through their crates.
    "coeur-offer": {"coeur-common", "coeur-web", "coeur-resource-server", "coeur-rp"},
    "coeur-ca": {
        "coeur-common", "coeur-oauth", "coeur-pki", "coeur-storage", "coeur-web",
        "coeur-resource-server",
    },
    "coeur-provider": {
        "coeur-common", "coeur-oauth", "coeur-pki", "coeur-storage", "coeur-web",
        "coeur-resource-server", "coeur-rp", "coeur-ca",
    },
    # Test harness: reaches the domains only through the root package's wiring.
    "coeur-testkit": {"coeur"},
    # The benchmarks' load driver: a client of coeur over HTTP and TLS only.
    "coeur-load": set(),
    "coeur": None,  # the binary: wires everything
}
PURE = ["coeur-common", "coeur-oauth", "coeur-pki"]
IO_CRATES = {
    "tokio", "mio", "socket2", "sqlx", "sqlx-core", "reqwest", "hyper", "hyper-util",
    "axum", "tower", "ldap3", "tokio-rustls", "tokio-util", "tempfile", "minijinja",
    "tracing-subscriber",
}


def is_repository(path: pathlib.Path) -> bool:
    parts = path.parts
    return (
        path.name == "store.rs"
        or "store" in parts
        or parts[-3:] in (("storage", "src", "db.rs"), ("storage", "src", "bus.rs"))
    )


def sql_outside_repositories(root: str) -> list:
    """SQL or the pool used outside a repository module of a crate (tests may check rows)."""
    found = []
    for src in sorted(pathlib.Path(root).glob("crates/*/src")):
        if src.parent.name == "testkit":
            continue
        for f in sorted(src.rglob("*.rs")):
            rel = f.relative_to(root)
            if is_repository(rel):
                continue
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                code = line.split("//", 1)[0]
                if "sqlx::" in code or ".pool()" in code:
                    found.append(f"{rel}:{n}: SQL outside a repository module")
    return found


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked"],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    members = set(meta["workspace_members"])
    pkgs = {p["id"]: p for p in meta["packages"]}
    names = {pkgs[m]["name"] for m in members}
    errors = []
    unknown = names - set(ALLOWED)
    for n in sorted(unknown):
        errors.append(f"{n}: a workspace crate missing from scripts/check-boundaries.py")
    for m in members:
        p = pkgs[m]
        allowed = ALLOWED.get(p["name"])
        if allowed is None:
            continue
        for d in p["dependencies"]:
            if d["name"] in names and d["name"] not in allowed:
                kind = d["kind"] or "normal"
                errors.append(f"{p['name']} may not depend on {d['name']} ({kind})")
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    by_name = {pkgs[m]["name"]: m for m in members}
    for pure in PURE:
        seen, stack = set(), [(by_name[pure], [pure])]
        while stack:
            node, path = stack.pop()
            for dep in nodes[node]["deps"]:
                kinds = {k["kind"] for k in dep["dep_kinds"]}
                if not kinds & {None, "build"} or dep["pkg"] in seen:
                    continue
                seen.add(dep["pkg"])
                name = pkgs[dep["pkg"]]["name"]
                if name in IO_CRATES:
                    errors.append(f"pure crate {pure} reaches {name}: {' -> '.join(path + [name])}")
                stack.append((dep["pkg"], path + [name]))
    errors += sql_outside_repositories(meta["workspace_root"])
    for e in errors:
        print(f"boundary: {e}", file=sys.stderr)
    if not errors:
        print(
            f"boundaries hold: {len(members)} workspace crates, pure crates {', '.join(PURE)},"
            " SQL in repositories only"
        )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
