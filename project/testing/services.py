"""The embedded Redis and S3 servers (see launcher/embedded.py) as child processes of a test run."""

from __future__ import annotations

import subprocess
from pathlib import Path

from launcher.embedded import (
    DEFAULT_BUCKET,
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    redis_server_command,
    s3_server_env,
    wait_for_s3_bucket,
    wait_for_tcp,
    weed_command,
)
from project.testing.processes import stop_tree


class EmbeddedServices:
    """Starts embedded Redis and/or SeaweedFS as child processes and stops them again."""

    def __init__(self, *, data_dir: Path, bucket: str = DEFAULT_BUCKET,
                 access_key: str = DEV_S3_ACCESS_KEY, secret_key: str = DEV_S3_SECRET_KEY):
        self.data_dir = data_dir
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.processes: list[subprocess.Popen] = []
        self.redis_url: str | None = None
        self.s3_endpoint_url: str | None = None

    def start_redis(self, port: int) -> str:
        self.processes.append(subprocess.Popen(redis_server_command(port),
                                               stdout=subprocess.DEVNULL))
        wait_for_tcp(port)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        return self.redis_url

    def start_s3(self, *, s3_port: int, internal_ports: tuple[int, int, int, int]) -> str:
        log = open(self.data_dir / "s3.log", "ab")  # noqa: SIM115 - lives as long as the child
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = weed_command(s3_port=s3_port, internal_ports=internal_ports,
                               data_dir=self.data_dir / "s3", bucket=self.bucket)
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               env=s3_server_env(self.access_key, self.secret_key)))
        self.s3_endpoint_url = f"http://127.0.0.1:{s3_port}"
        wait_for_s3_bucket(endpoint_url=self.s3_endpoint_url, bucket=self.bucket,
                           access_key=self.access_key, secret_key=self.secret_key)
        return self.s3_endpoint_url

    def stop(self) -> None:
        stop_tree(*self.processes)
        self.processes.clear()
