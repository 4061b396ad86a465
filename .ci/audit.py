"""`make audit`: known vulnerabilities in the installed dependencies (pip-audit, pinned).

Never a silent pass: when the vulnerability service cannot be reached the audit is skipped and
says why; packages it could not look up are listed; any known vulnerability fails (exit 1).
pip-audit asks PyPI's JSON API (its default service) about every package in this environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

SERVICE_PROBE = "https://pypi.org/pypi/pip/json"
PROBE_TIMEOUT = 10
AUDIT_TIMEOUT = 600
NETWORK_ERRORS = ("ConnectionError", "Max retries exceeded", "NameResolutionError",
                  "Read timed out", "ConnectTimeout")


def service_unreachable() -> str | None:
    """Why the vulnerability service cannot be used from here, or None when it answers."""
    try:
        with urllib.request.urlopen(SERVICE_PROBE, timeout=PROBE_TIMEOUT) as response:
            response.read(1)
    except urllib.error.HTTPError as error:
        return f"{SERVICE_PROBE} answered {error.code}"
    except (OSError, ValueError) as error:  # DNS, refused, timeout, a blocked socket …
        return f"{SERVICE_PROBE} cannot be reached ({error})"
    return None


def summarize(report: dict) -> tuple[int, list[str]]:
    """(exit code, lines to print) for pip-audit's JSON report."""
    vulnerable, skipped, audited = [], [], 0
    for dependency in report.get("dependencies", []):
        name = dependency["name"]
        if "skip_reason" in dependency:
            skipped.append(f"  {name}: {dependency['skip_reason']}")
            continue
        name = f"{name}=={dependency.get('version', '?')}"
        audited += 1
        for vuln in dependency.get("vulns", []):
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            vulnerable.append(f"  {name}: {vuln['id']} (fixed in: {fixes})")
    if audited:
        lines = [f"dependency audit: {audited} packages audited, {len(skipped)} could not be "
                 f"looked up, {len(vulnerable)} known vulnerabilities"]
    else:
        lines = [f"dependency audit SKIPPED: the service knows none of the {len(skipped)} "
                 "installed versions, so nothing was audited"]
    if vulnerable:
        lines += ["KNOWN VULNERABILITIES (pin a fixed version in requirements*.txt):", *vulnerable]
    if skipped:
        lines += ["NOT AUDITED (the service does not know these versions):", *skipped]
    return (1 if vulnerable else 0), lines


def main() -> int:
    reason = service_unreachable()
    if reason:
        print(f"dependency audit SKIPPED: {reason}")
        return 0
    result = subprocess.run(
        [sys.executable, "-m", "pip_audit", "--format", "json", "--progress-spinner", "off"],
        capture_output=True, text=True, timeout=AUDIT_TIMEOUT)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        error = result.stderr.strip()[-3000:]
        if any(sign in error for sign in NETWORK_ERRORS):  # the service went away mid-run
            print(f"dependency audit SKIPPED: the service stopped answering:\n{error}")
            return 0
        print(f"dependency audit FAILED to run (exit {result.returncode}):\n{error}")
        return 1
    code, lines = summarize(report)
    print("\n".join(lines))
    return code


if __name__ == "__main__":
    sys.exit(main())
