"""`make stack`: Surge's production topology on one machine, from one command.

nginx on the public --port routes /ws/ to M socket processes and everything else to N web
processes; K task workers, D dispatchers and the local provider run beside them. PostgreSQL,
Redis and S3 are private servers in the state dir (SURGE_VAR_DIR, else var/stack/) unless
DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL point elsewhere. Every port derives from --port (see
StackPorts). The app runs with SURGE_ENV=production, as deployed, and the environment it shares is
written to <state>/stack.env for benchmark tools. Ctrl-C or SIGTERM stops everything, front to
back; a process that dies stops the rest, is named, and the launcher exits non-zero.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from bench.supervisor import Child, ChildExited, StopRequested, Supervisor
from launcher.embedded import (
    BASE_DIR,
    DEFAULT_BUCKET,
    DEV_PROVIDER_API_KEY,
    DEV_PROVIDER_WEBHOOK_SECRET,
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    MALLOC_ARENA_MAX,
    PortLayout,
    first_taken_port,
    redis_server_command,
    weed_command,
)
from notifications.deliveries.vapid import generate_vapid_keys

PYTHON = sys.executable
NGINX_CONF = Path(__file__).with_name("stack_nginx.conf")  # placeholders: %(name)s
DEFAULT_PORT = 8100  # `make run` uses 8000 and its +1…+7 and +10000 neighbours
DATABASE_NAME = DATABASE_USER = "surge"
WORKER_CONNECTIONS = 16384  # per nginx worker; a proxied WebSocket holds two
MAX_OPEN_FILES = 1 << 20  # Linux's default fs.nr_open, used when the hard limit is unlimited
SERVICES, PROVIDER, APP, FRONT = range(4)  # stop order: FRONT first, SERVICES last
# What the app would take from the launcher's own environment but must not in this topology.
NOT_INHERITED = ("PROVIDERS_JSON", "LOCAL_PROVIDER", "DEBUG", "TASKS_RUN_INLINE", "BIND",
                 "CSRF_TRUSTED_ORIGINS", "DJANGO_ALLOW_ASYNC_UNSAFE")


class StackError(Exception):
    """Something the stack needs is missing; the message says what to do."""


class PortTaken(StackError):
    """Refused before anything started: nothing to stop, one line to say."""


@dataclass(frozen=True)
class StackPorts:
    """Every port of one stack, derived from the public port. The services sit where `make run`
    puts them relative to its web port; the app processes follow from +10."""

    public: int
    web_count: int
    socket_count: int

    @property
    def services(self) -> PortLayout:
        return PortLayout(web=self.public)  # redis +1, s3 +2, provider +3, SeaweedFS +4…+7

    @property
    def postgres(self) -> int:
        return self.public + 8

    @property
    def web(self) -> list[int]:
        return [self.public + 10 + i for i in range(self.web_count)]

    @property
    def sockets(self) -> list[int]:
        return [self.public + 10 + self.web_count + i for i in range(self.socket_count)]

    def needed(self, *, postgres: bool, redis: bool, s3: bool) -> list[tuple[int, str]]:
        """(port, what needs it) for every port this stack will listen on."""
        ports = [(self.public, "nginx")]
        ports += [(port, f"web.{i}") for i, port in enumerate(self.web, 1)]
        ports += [(port, f"socket.{i}") for i, port in enumerate(self.sockets, 1)]
        ports.append((self.services.local_provider, "the local provider"))
        if postgres:
            ports.append((self.postgres, "PostgreSQL"))
        if redis:
            ports.append((self.services.redis, "Redis"))
        if s3:
            for port in (self.services.s3, *self.services.s3_internal):
                ports += [(port, "S3 (SeaweedFS)"), (port + 10000, "S3 (SeaweedFS gRPC)")]
        return ports


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or DEFAULT_PORT),
                        help=f"public port of nginx; every other port derives from it "
                             f"(default: $PORT, else {DEFAULT_PORT})")
    parser.add_argument("--web", type=int, default=2, help="web processes (HTTP), default 2")
    parser.add_argument("--sockets", type=int, default=1,
                        help="socket processes (WebSockets under /ws/), default 1")
    parser.add_argument("--workers", type=int, default=1, help="task workers, default 1")
    parser.add_argument("--dispatchers", type=int, default=1, help="dispatchers, default 1")
    parser.add_argument("--copiers", type=int, default=1,
                        help="copiers (finished videos into S3), default 1")
    args = parser.parse_args(argv)
    for name in ("web", "sockets", "workers", "dispatchers", "copiers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if not 1024 <= args.port <= 65535 - 10000 - 10:  # SeaweedFS's gRPC ports sit at +10000
        parser.error(f"--port must be between 1024 and {65535 - 10000 - 10}")
    if args.web + args.sockets > 10000 - 10:
        parser.error("too many web and socket processes for one port block")
    return args


def check_ports_free(needed: list[tuple[int, str]]) -> None:
    taken = first_taken_port(needed)
    if taken:
        raise PortTaken(f"port {taken[0]} is taken (needed by {taken[1]}); pick another --port")


def ephemeral_overlap(ports: list[int]) -> list[int]:
    """Ports the kernel may also hand to outgoing connections (which would then block a bind)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return []
    return [port for port in ports if low <= port <= high]


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; every child inherits it (5,000+ WebSockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def state_dir() -> Path:
    return Path(os.environ.get("SURGE_VAR_DIR") or BASE_DIR / "var" / "stack").resolve()


def _kept(path: Path, make) -> str:
    """A secret generated once into the state dir, so sessions and tokens survive restarts."""
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _reachable_by(path: Path, user: str) -> bool:
    """Can `user` walk down to `path`? (PostgreSQL and nginx's workers run as other users.)"""
    account = pwd.getpwnam(user)
    groups = set(os.getgrouplist(user, account.pw_gid))
    for directory in [path, *path.parents]:
        mode = directory.stat()
        if mode.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif mode.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not mode.st_mode & bit:
            return False
    return True


def app_environment(ports: StackPorts, state: Path, *, database_url: str, redis_url: str,
                    s3_endpoint_url: str | None) -> dict[str, str]:
    """What every app process shares on top of the launcher's environment (also stack.env)."""
    vapid = json.loads(_kept(state / "vapid.json", lambda: json.dumps(generate_vapid_keys())))
    shared = {
        "SURGE_ENV": "production",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _kept(state / "secret_key",
                                                            lambda: secrets.token_urlsafe(50)),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports.public}",
        "TRUSTED_PROXY_COUNT": "1",
        "PORT": str(ports.public),
        "SURGE_VAR_DIR": str(state),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LOCAL_PROVIDER_URL": f"http://127.0.0.1:{ports.services.local_provider}",
        "LOCAL_PROVIDER_API_KEY": os.environ.get("LOCAL_PROVIDER_API_KEY", DEV_PROVIDER_API_KEY),
        "LOCAL_PROVIDER_WEBHOOK_SECRET": os.environ.get("LOCAL_PROVIDER_WEBHOOK_SECRET",
                                                        DEV_PROVIDER_WEBHOOK_SECRET),
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY", vapid["public_key"]),
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY", vapid["private_key"]),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "PYTHONUNBUFFERED": "1",
        "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX),
        # The rehearsal speaks plain http on 127.0.0.1: no redirect to an https it doesn't have.
        "SECURE_SSL_REDIRECT": "0",
    }
    if s3_endpoint_url is None:  # the external S3's settings pass through as they are
        shared.update(S3_ENDPOINT_URL=os.environ["S3_ENDPOINT_URL"])
        for name in ("S3_BUCKET", "S3_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if name in os.environ:
                shared[name] = os.environ[name]
    else:
        shared.update(S3_ENDPOINT_URL=s3_endpoint_url, S3_BUCKET=DEFAULT_BUCKET,
                      AWS_ACCESS_KEY_ID=DEV_S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=DEV_S3_SECRET_KEY)
    if "SURGE_REDIS_PREFIX" in os.environ:
        shared["SURGE_REDIS_PREFIX"] = os.environ["SURGE_REDIS_PREFIX"]
    return shared


def write_env_file(path: Path, shared: dict[str, str]) -> None:
    path.write_text("".join(f"{key}={value}\n" for key, value in shared.items()))
    path.chmod(0o600)


# --- PostgreSQL ---------------------------------------------------------------------------------


class PrivatePostgres:
    """A cluster of Debian's PostgreSQL binaries in the state dir, on the stack's own port."""

    def __init__(self, data_dir: Path, port: int, max_connections: int):
        versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                          key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0)
        if not versions:
            raise StackError("PostgreSQL binaries not found in /usr/lib/postgresql: install "
                             "Debian's postgresql package (`make stack` does) or set DATABASE_URL")
        self.bin = versions[-1].parent
        self.data_dir = data_dir
        self.port = port
        self.max_connections = max_connections
        # PostgreSQL refuses to run as root; as root we run it as the postgres OS user.
        self.user = "postgres" if os.geteuid() == 0 else None
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}

    @property
    def url(self) -> str:
        return f"postgres://{DATABASE_USER}@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def prepare(self) -> None:
        """initdb on first use; trust on 127.0.0.1 only (no socket, no other address)."""
        options = {}
        if self.user:
            account = pwd.getpwnam(self.user)
            if not _reachable_by(self.data_dir.parent, self.user):
                raise StackError(f"the postgres OS user cannot reach {self.data_dir.parent}: make "
                                 f"its parent directories traversable (chmod o+x) or set "
                                 f"DATABASE_URL")
            options = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            if self.user:
                os.chown(self.data_dir, account.pw_uid, account.pw_gid)
            result = subprocess.run(
                [str(self.bin / "initdb"), "-D", str(self.data_dir), "-U", DATABASE_USER,
                 "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"],
                cwd="/", env=self.env, capture_output=True, text=True, **options)
            if result.returncode:
                raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text("# Written by bench/stack.py on every start.\n"
                       "host all all 127.0.0.1/32 trust\n")
        if self.user:
            os.chown(hba, account.pw_uid, account.pw_gid)

    def child(self) -> Child:
        return Child("postgres", [
            str(self.bin / "postgres"), "-D", str(self.data_dir), "-c", f"port={self.port}",
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", f"max_connections={self.max_connections}"],
            stage=SERVICES, env=self.env, cwd=Path("/"), user=self.user,
            stop_signal=signal.SIGINT)  # fast shutdown: roll back, disconnect, checkpoint

    def ensure_database(self) -> bool:
        """True once the server answers and the database exists (created on first start)."""
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user=DATABASE_USER,
                                 dbname="postgres", autocommit=True, connect_timeout=2) as conn:
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                    [DATABASE_NAME]).fetchone():
                    conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            return True
        except psycopg.OperationalError:  # not up yet, or still starting
            return False


def postgres_max_connections(args: argparse.Namespace) -> int:
    # A web or socket process holds a connection per thread running sync code; a worker one per
    # task process (WORKER_PROCESSES, 2) plus its cluster's own; a dispatcher a few; a copier
    # one per copy thread (8).
    return max(200, 40 * (args.web + args.sockets)
               + 10 * (args.workers + args.dispatchers + args.copiers) + 20)


# --- nginx --------------------------------------------------------------------------------------


def nginx_config(directory: Path, ports: StackPorts, open_files: int) -> str:
    def servers(port_list: list[int]) -> str:
        return "\n".join(f"        server 127.0.0.1:{port};" for port in port_list)

    return NGINX_CONF.read_text() % {
        "dir": directory, "port": ports.public, "open_files": open_files,
        "worker_connections": WORKER_CONNECTIONS, "web_servers": servers(ports.web),
        "socket_servers": servers(ports.sockets)}


def nginx_child(state: Path, ports: StackPorts, open_files: int) -> Child:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not nginx:
        raise StackError("nginx not found: install Debian's nginx package (`make stack` does)")
    directory = state / "nginx"
    directory.mkdir(exist_ok=True)
    # As root, nginx's workers run as nobody and write request bodies to the temp paths here.
    if os.geteuid() == 0 and not _reachable_by(directory, "nobody"):
        raise StackError(f"nginx's workers (user nobody) cannot reach {directory}: make its "
                         f"parent directories traversable (chmod o+x)")
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config(directory, ports, open_files))
    # -e: the error log before the config is read (never the system's /var/log/nginx).
    argv = [nginx, "-p", f"{directory}/", "-c", str(conf), "-e", "stderr"]
    test = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True)
    if test.returncode:
        raise StackError(f"nginx refuses the generated {conf}:\n{test.stderr}")
    return Child("nginx", [*argv, "-g", "daemon off;"], stage=FRONT)


# --- the stack ----------------------------------------------------------------------------------


def _http_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def app_children(args: argparse.Namespace, ports: StackPorts, state: Path,
                 env: dict[str, str]) -> list[Child]:
    serve = [PYTHON, "-m", "launcher.serve"]
    children = [Child("provider", [
        PYTHON, "-m", "local_provider", "--port", str(ports.services.local_provider),
        "--state-dir", str(state / "local_provider")], stage=PROVIDER, env=env, cwd=BASE_DIR)]
    # Web and socket processes run the same server; nginx decides which gets which traffic.
    for role, port_list in (("web", ports.web), ("socket", ports.sockets)):
        children += [Child(f"{role}.{i}", [*serve, "web", "--bind", "127.0.0.1"], stage=APP,
                           env={**env, "PORT": str(port)}, cwd=BASE_DIR)
                     for i, port in enumerate(port_list, 1)]
    # The worker wrapper forwards SIGTERM to qcluster's main process only (see launcher/serve.py).
    children += [Child(f"worker.{i}", [*serve, "worker"], stage=APP, env=env, cwd=BASE_DIR)
                 for i in range(1, args.workers + 1)]
    children += [Child(f"dispatcher.{i}", [*serve, "dispatcher", "--copy-threads", "0"],
                       stage=APP, env=env, cwd=BASE_DIR) for i in range(1, args.dispatchers + 1)]
    children += [Child(f"copier.{i}", [*serve, "copier"], stage=APP, env=env, cwd=BASE_DIR)
                 for i in range(1, args.copiers + 1)]
    return children


def run(args: argparse.Namespace, supervisor: Supervisor) -> None:
    ports = StackPorts(public=args.port, web_count=args.web, socket_count=args.sockets)
    external = {name: bool(os.environ.get(name))
                for name in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    needed = ports.needed(postgres=not external["DATABASE_URL"], redis=not external["REDIS_URL"],
                          s3=not external["S3_ENDPOINT_URL"])
    check_ports_free(needed)
    open_files = raise_open_files_limit()
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)  # others may pass through (postgres, nginx's workers), not list or read
    postgres = None if external["DATABASE_URL"] else PrivatePostgres(
        state / "postgres", ports.postgres, postgres_max_connections(args))
    services = ports.services
    shared = app_environment(
        ports, state,
        database_url=os.environ["DATABASE_URL"] if postgres is None else postgres.url,
        redis_url=os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{services.redis}/0",
        s3_endpoint_url=None if external["S3_ENDPOINT_URL"] else f"http://127.0.0.1:{services.s3}")
    write_env_file(state / "stack.env", shared)
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env.update(shared)
    front = nginx_child(state, ports, open_files)
    app = app_children(args, ports, state, env)
    supervisor.align(["postgres", front.name, *(child.name for child in app)])
    supervisor.say(
        f"nginx :{ports.public} → web ×{args.web} :{ports.web[0]}…, sockets ×{args.sockets} "
        f":{ports.sockets[0]}…; workers ×{args.workers}, dispatchers ×{args.dispatchers}, "
        f"copiers ×{args.copiers}; "
        f"open files {open_files}; state in {state}")
    if overlap := ephemeral_overlap([port for port, _ in needed]):
        supervisor.say(f"warning: ports {min(overlap)}…{max(overlap)} are in the ephemeral "
                       f"range; an outgoing connection may take one before its server binds it")

    if postgres:
        postgres.prepare()
        supervisor.start(postgres.child())
    if not external["REDIS_URL"]:
        supervisor.start(Child("redis", redis_server_command(services.redis), stage=SERVICES))
    if not external["S3_ENDPOINT_URL"]:
        supervisor.start(Child("s3", weed_command(
            s3_port=services.s3, internal_ports=services.s3_internal, data_dir=state / "s3",
            bucket=shared["S3_BUCKET"]), stage=SERVICES, env=env))
    if postgres:
        supervisor.wait_until(postgres.ensure_database, what="PostgreSQL", timeout=60)
    supervisor.say("migrating the database")
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], env=env,
                   cwd=BASE_DIR, check=True)
    for child in app:
        supervisor.start(child)
    supervisor.start(front)

    def everything_answers() -> bool:
        return (all(_http_status(port, "/readyz") == 200 for port in ports.web + ports.sockets)
                and _listening(services.local_provider)
                and _http_status(ports.public, "/readyz") == 200)

    supervisor.wait_until(everything_answers, what="the stack", timeout=300)
    supervisor.banner(f"Surge stack is running at http://127.0.0.1:{ports.public}/"
                      f"   (Ctrl-C stops everything)")
    supervisor.watch()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    failure = None
    try:
        run(args, supervisor)
    except StopRequested:
        pass
    except PortTaken as error:
        sys.stderr.write(f"Surge stack: {error}\n")
        return 1
    except ChildExited as error:
        failure = f"{error}; its last lines are above"
    except (StackError, TimeoutError, subprocess.CalledProcessError) as error:
        failure = str(error)
    finally:
        supervisor.stop()
    if failure:
        sys.stderr.write(f"\n!!! Surge stack stopped: {failure}\n")
        sys.stderr.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
