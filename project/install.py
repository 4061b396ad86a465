"""`make install`: install pinned requirements into this venv with uv, or with pip when uv can't.

uv (bootstrapped from PyPI into the venv by pip, pinned below) installs the same exact pins as
pip in a fraction of the time. uv reads neither pip.conf nor PIP_* variables, so the options pip
would use here (its config files and environment, resolved by pip itself) are passed on: indexes,
find-links, constraints, certificate, timeout, proxy. When uv cannot be installed, or a pip
option has no uv equivalent, or uv fails, plain pip does the install. `SURGE_INSTALLER=pip` forces
pip. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

try:
    from pip._internal.commands import create_command
except ImportError:  # pip's internals moved (they are not an API): pip installs on its own
    create_command = None

UV_REQUIREMENT = "uv==0.13.9"
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
UV = Path(sys.executable).with_name("uv")


class Unmappable(Exception):
    """A pip option in force here that uv cannot be told about: pip must do this install."""


def pip_options():
    """The options `pip install` would use in this environment (config files and PIP_* merged
    by pip's own parser, the one way to get pip's precedence exactly right)."""
    options, _ = create_command("install").parse_args([])
    return options


def uv_arguments(options) -> tuple[list[str], dict[str, str]]:
    """uv's flags and environment equivalent to pip's `options`."""
    if options.use_user_site or options.target_dir or options.prefix_path or options.root_path:
        raise Unmappable("--user / --target / --prefix / --root")
    args: list[str] = []
    env: dict[str, str] = {}
    if options.no_index:
        args.append("--no-index")
    else:
        args += ["--default-index", options.index_url]
        for url in options.extra_index_urls:
            args += ["--index", url]
        if options.extra_index_urls:
            # pip takes the best version from all indexes; uv's default stops at the first one
            # that knows the name (a local mirror with an older release would win).
            args += ["--index-strategy", "unsafe-best-match"]
    for location in options.find_links:
        args += ["--find-links", location]
    for path in options.constraints:
        args += ["--constraints", path]
    for host in options.trusted_hosts:
        args += ["--allow-insecure-host", host]
    if options.pre:
        args += ["--prerelease", "allow"]
    if options.require_hashes:
        args.append("--require-hashes")
    for name in sorted(options.format_control.no_binary):
        args += ["--no-binary", name]
    for name in sorted(options.format_control.only_binary):
        args += ["--only-binary", name]
    if options.cache_dir is False:
        args.append("--no-cache")
    if options.cert:
        env["SSL_CERT_FILE"] = options.cert
    if options.client_cert:
        env["SSL_CLIENT_CERT"] = options.client_cert
    if options.timeout:
        env["UV_HTTP_TIMEOUT"] = str(int(options.timeout))
    if options.proxy:
        env["HTTP_PROXY"] = env["HTTPS_PROXY"] = options.proxy
    return args, env


def bootstrap_uv() -> bool:
    """Install the pinned uv into the venv unless it is there; False when it cannot be had."""
    wanted = UV_REQUIREMENT.split("==")[1]
    if UV.exists():
        found = subprocess.run([str(UV), "--version"], capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.split()[1:2] == [wanted]:
            return True
    return subprocess.run([*PIP, "install", UV_REQUIREMENT]).returncode == 0 and UV.exists()


def install_with_uv(requirements: list[str]) -> bool:
    if create_command is None:
        print("install: cannot read pip's options; using pip", file=sys.stderr)
        return False
    try:
        args, env = uv_arguments(pip_options())
    except Unmappable as why:
        print(f"install: pip option {why} has no uv equivalent; using pip", file=sys.stderr)
        return False
    if not bootstrap_uv():
        print(f"install: could not install {UV_REQUIREMENT}; using pip", file=sys.stderr)
        return False
    command = [str(UV), "pip", "install", "--quiet", "--python", sys.executable,
               # as pip does: without .pyc files each process of the app compiles Django anew,
               # every time where PYTHONDONTWRITEBYTECODE is set (it is on our machines).
               "--compile-bytecode", *args]
    for path in requirements:
        command += ["-r", path]
    if subprocess.run(command, env={**os.environ, **env}).returncode == 0:
        return True
    print("install: uv failed (see above); trying pip", file=sys.stderr)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirement", action="append", required=True, dest="files")
    requirements = parser.parse_args(argv).files
    if os.environ.get("SURGE_INSTALLER", "uv") != "pip":
        try:
            if install_with_uv(requirements):
                return 0
        except (AttributeError, TypeError) as error:  # pip's internals moved
            print(f"install: cannot read pip's options ({error!r}); using pip", file=sys.stderr)
    command = [*PIP, "install"]
    for path in requirements:
        command += ["-r", path]
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
