"""Read-only looks at the target's database (SQLite or PostgreSQL) from the benchmark process.

Plain SQL on two columns of `jobs_job`, so the benchmark needs no Django of its own.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from urllib.parse import urlparse

JOBS_TABLE = "jobs_job"


class Database:
    """One read-only connection, used from one thread at a time."""

    def __init__(self, url: str):
        scheme = urlparse(url).scheme
        if scheme.startswith("sqlite"):
            path = url.split("://", 1)[1][1:]  # sqlite:////abs/path → /abs/path
            self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30,
                                              check_same_thread=False)
            self.placeholder = "?"
        elif scheme in ("postgres", "postgresql", "pgsql"):
            import psycopg

            self.connection = psycopg.connect(url.replace("pgsql://", "postgresql://", 1),
                                              autocommit=True)
            self.placeholder = "%s"
        else:
            raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r}")

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql.replace("?", self.placeholder), params)
            return cursor.fetchall()
        finally:
            cursor.close()

    def job_counts(self) -> dict[str, int]:
        """{status: number of jobs}."""
        return dict(self._rows(f"SELECT status, COUNT(*) FROM {JOBS_TABLE} GROUP BY status"))

    def provider_job_ids(self, provider: str, limit: int) -> list[str]:
        """Ids the provider gave to jobs it accepted (newest first)."""
        return [row[0] for row in self._rows(
            f"SELECT provider_job_id FROM {JOBS_TABLE} WHERE provider = ? AND "
            f"provider_job_id <> '' ORDER BY created_at DESC LIMIT ?", (provider, limit))]

    def eta_promises(self, job_ids: list[str]) -> dict[str, tuple]:
        """{job id: (promised at, promised seconds, finished at)}: the first ETA after dispatch
        each job kept (jobs/eta.py), times as Unix timestamps."""
        if not job_ids:
            return {}
        sqlite = self.placeholder == "?"
        marks = ", ".join("?" for _ in job_ids)
        rows = self._rows(
            f"SELECT id, eta_promised_at, eta_promised_seconds, finished_at FROM {JOBS_TABLE} "
            f"WHERE id IN ({marks})",
            tuple(job_id.replace("-", "") if sqlite else job_id for job_id in job_ids))
        by_hex = {job_id.replace("-", ""): job_id for job_id in job_ids}
        return {by_hex[str(row[0]).replace("-", "")]: (_timestamp(row[1]), row[2],
                                                       _timestamp(row[3])) for row in rows}

    def close(self) -> None:
        self.connection.close()


TERMINAL = ("succeeded", "failed", "canceled")


def _timestamp(value) -> float | None:
    """A datetime column (PostgreSQL: aware; SQLite: UTC text) as a Unix timestamp."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    return datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc).timestamp()
