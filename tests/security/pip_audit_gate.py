"""`make test`'s dependency audit: pip-audit on requirements.lock.

pip-audit asks PyPI's vulnerability data over the network. A vulnerability found
fails the build; a machine that cannot reach the service passes with a loud
warning ("NOT AUDITED"), so an offline run still tests the code; any other
failure of pip-audit fails the build. Run: ``python -m tests.security.pip_audit_gate``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [
    str(Path(sys.executable).with_name("pip-audit")),
    "-r",
    "requirements.lock",
    "--require-hashes",
    "--disable-pip",
    "--progress-spinner",
    "off",
    "--format",
    "json",
]
# What requests/urllib3 print when the service cannot be reached at all.
NETWORK_FAILURES = (
    "ConnectionError",
    "ProxyError",
    "ConnectTimeout",
    "ReadTimeout",
    "NameResolutionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Max retries exceeded",
)


def verdict(returncode: int, stdout: str, stderr: str) -> tuple[int, str]:
    """(exit code, message) for one pip-audit run."""
    try:
        report = json.loads(stdout) if stdout.strip() else None
    except json.JSONDecodeError:
        report = None
    if report is not None:
        found = [
            f"{dep['name']} {dep['version']}: {vuln['id']} (fixed in "
            f"{', '.join(vuln.get('fix_versions') or []) or 'no release yet'})"
            for dep in report.get("dependencies", [])
            for vuln in dep.get("vulns", [])
        ]
        if found:
            return 1, "pip-audit found known vulnerabilities:\n  " + "\n  ".join(found)
        if returncode == 0:
            return 0, "pip-audit: no known vulnerabilities in requirements.lock."
    if returncode != 0 and any(marker in stderr for marker in NETWORK_FAILURES):
        last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
        return 0, (
            "WARNING: pip-audit could not reach the vulnerability service; requirements.lock "
            f"was NOT AUDITED on this run.\n  {last}"
        )
    return 1, f"pip-audit failed (exit {returncode}):\n{stderr.strip()}"


def main() -> int:
    run = subprocess.run(  # noqa: S603 - a fixed command, no shell, no user input
        COMMAND, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    code, message = verdict(run.returncode, run.stdout, run.stderr)
    print(message, file=sys.stderr if code else sys.stdout)  # noqa: T201
    return code


if __name__ == "__main__":
    sys.exit(main())
