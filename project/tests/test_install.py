"""`make install`'s installer: pip's settings reach uv, and pip takes over when uv can't be had."""

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pip
import pytest

from launcher.embedded import BASE_DIR
from project import install


@pytest.fixture
def pip_env(monkeypatch):
    """pip sees only the settings a test gives it: no config files, no PIP_* from the machine."""
    for name in list(os.environ):
        if name.startswith("PIP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    return monkeypatch


def uv_args():
    return install.uv_arguments(install.pip_options())


def test_defaults_use_pypi_alone(pip_env):
    """With no settings, uv gets pip's default index and nothing else."""
    args, env = uv_args()
    assert args == ["--default-index", "https://pypi.org/simple"]
    assert env == {"UV_HTTP_TIMEOUT": "15"}


def test_pip_conf_and_environment_reach_uv(pip_env, tmp_path):
    """A pip.conf's indexes, find-links and constraints, and PIP_* variables, become uv flags."""
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("torch<=1\n")
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\n"
                    "extra-index-url = file:///opt/a/simple file:///opt/b/simple\n"
                    f"constraint = {constraints}\ncert = /etc/ssl/certs/ca.crt\n")
    pip_env.setenv("PIP_CONFIG_FILE", str(conf))
    pip_env.setenv("PIP_FIND_LINKS", "/opt/wheels")
    pip_env.setenv("PIP_DEFAULT_TIMEOUT", "180")
    pip_env.setenv("PIP_TRUSTED_HOST", "mirror.example")

    args, env = uv_args()

    assert args == [
        "--default-index", "https://mirror.example/simple",
        "--index", "file:///opt/a/simple", "--index", "file:///opt/b/simple",
        "--index-strategy", "unsafe-best-match",
        "--find-links", "/opt/wheels",
        "--constraints", str(constraints),
        "--allow-insecure-host", "mirror.example",
    ]
    assert env == {"SSL_CERT_FILE": "/etc/ssl/certs/ca.crt", "UV_HTTP_TIMEOUT": "180"}


def test_no_index_and_binary_rules(pip_env):
    """--no-index, --only-binary and --no-cache-dir keep their meaning under uv."""
    pip_env.setenv("PIP_NO_INDEX", "1")
    pip_env.setenv("PIP_ONLY_BINARY", ":all:")
    pip_env.setenv("PIP_NO_CACHE_DIR", "1")
    args, _ = uv_args()
    assert args == ["--no-index", "--only-binary", ":all:", "--no-cache"]


def test_user_installs_are_left_to_pip(pip_env):
    """A pip setting uv has no equivalent for makes pip do the install."""
    pip_env.setenv("PIP_USER", "1")
    with pytest.raises(install.Unmappable):
        uv_args()


def _wheel(directory: Path, name: str = "surge_probe", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel, built here so the install tests need no index."""
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{name}-{version}.dist-info/WHEEL":
            b"Wheel-Version: 1.0\nGenerator: surge-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = f"{name}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[record] = ("\n".join(lines + [f"{record},,"]) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


@pytest.fixture
def offline_venv(pip_env, tmp_path):
    """A new venv that borrows pip from this one (a .pth file; ensurepip takes seconds), a wheel
    in a find-links folder, and pip told to use no index: nothing here reaches a network."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import site;"
                           "print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "borrowed_pip.pth").write_text(str(Path(pip.__file__).parent.parent) + "\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("surge_probe==1.0\n")
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels),
           "UV_CACHE_DIR": str(tmp_path / "uv-cache"), "PIP_CACHE_DIR": str(tmp_path / "pip-cache")}
    return venv, requirements, env


def _install(venv, requirements, env):
    return subprocess.run([str(venv / "bin" / "python"), "-m", "project.install", "-r",
                           str(requirements)], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=120)


def _installed_by(venv) -> str:
    found = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import importlib.metadata as m, surge_probe;"
                            "print(m.distribution('surge_probe').read_text('INSTALLER').strip())"],
                           capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


@pytest.mark.skipif(not install.UV.exists(), reason="this venv was installed without uv")
def test_uv_installs_from_pips_find_links(offline_venv):
    """With the pinned uv in the venv, uv installs the requirements from pip's find-links."""
    venv, requirements, env = offline_venv
    shutil.copy(install.UV, venv / "bin" / "uv")
    result = _install(venv, requirements, env)
    assert result.returncode == 0, result.stderr
    assert _installed_by(venv) == "uv"


def test_pip_installs_when_uv_cannot_be_had(offline_venv):
    """No uv in the venv and none to be installed: pip installs, and says why."""
    venv, requirements, env = offline_venv
    result = _install(venv, requirements, env)
    assert result.returncode == 0, result.stderr
    assert "could not install uv==" in result.stderr
    assert _installed_by(venv) == "pip"
