"""`make audit` (.ci/audit.py): never a silent pass, whether or not its service answers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import urllib.error

import pytest

from launcher.embedded import BASE_DIR

spec = importlib.util.spec_from_file_location("ci_audit", BASE_DIR / ".ci" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def offline(url, timeout):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def online(url, timeout):
    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b"{"
    return Response()


def pip_audit_answers(monkeypatch, report: dict | None, stderr: str = ""):
    ran = []

    def run(argv, **kwargs):
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 1, json.dumps(report) if report else "", stderr)
    monkeypatch.setattr(audit.urllib.request, "urlopen", online)
    monkeypatch.setattr(audit.subprocess, "run", run)
    return ran


def test_an_unreachable_service_skips_the_audit_and_says_why(monkeypatch, capsys):
    monkeypatch.setattr(audit.urllib.request, "urlopen", offline)
    monkeypatch.setattr(audit.subprocess, "run", lambda *a, **k: pytest.fail("pip-audit ran"))
    assert audit.main() == 0
    out = capsys.readouterr().out
    assert "dependency audit SKIPPED" in out and "Name or service not known" in out


def test_a_known_vulnerability_fails_and_names_the_fix(monkeypatch, capsys):
    ran = pip_audit_answers(monkeypatch, {"dependencies": [
        {"name": "django", "version": "5.2.1", "vulns": [
            {"id": "PYSEC-2025-1", "fix_versions": ["5.2.2"], "aliases": []}]},
        {"name": "redis", "version": "8.1.0", "vulns": []}]})
    assert audit.main() == 1
    out = capsys.readouterr().out
    assert "2 packages audited" in out and "1 known vulnerabilities" in out
    assert "django==5.2.1: PYSEC-2025-1 (fixed in: 5.2.2)" in out
    assert ran[0][1:3] == ["-m", "pip_audit"]


def test_packages_the_service_does_not_know_are_listed(monkeypatch, capsys):
    pip_audit_answers(monkeypatch, {"dependencies": [
        {"name": "redis", "version": "8.1.0", "vulns": []},
        {"name": "uvloop", "skip_reason": "Dependency not found on PyPI: uvloop (0.23.0)"}]})
    assert audit.main() == 0
    out = capsys.readouterr().out
    assert "1 packages audited, 1 could not be looked up, 0 known" in out
    assert "NOT AUDITED" in out and "uvloop" in out


def test_nothing_audited_is_reported_as_skipped_not_passed(monkeypatch, capsys):
    pip_audit_answers(monkeypatch, {"dependencies": [
        {"name": "uvloop", "skip_reason": "Dependency not found on PyPI: uvloop (0.23.0)"}]})
    assert audit.main() == 0
    assert "dependency audit SKIPPED: the service knows none" in capsys.readouterr().out


def test_pip_audit_failing_without_a_report_fails(monkeypatch, capsys):
    pip_audit_answers(monkeypatch, None, stderr="ResolutionImpossible: bad environment")
    assert audit.main() == 1
    assert "FAILED to run" in capsys.readouterr().out


def test_the_service_lost_mid_run_skips(monkeypatch, capsys):
    pip_audit_answers(monkeypatch, None, stderr="requests.exceptions.ConnectionError: Max "
                                                "retries exceeded with url: /pypi/x/json")
    assert audit.main() == 0
    assert "SKIPPED: the service stopped answering" in capsys.readouterr().out


def test_pip_audit_is_pinned_for_ci():
    assert "pip-audit==" in (BASE_DIR / "requirements-dev.txt").read_text()
    assert "make audit" in (BASE_DIR / ".ci" / "run").read_text()
