"""Throw-away Galaxy and Tool Shed servers on loopback, shared by the tool-test harnesses.

Both servers run from the Galaxy virtual environment (``GALAXY_VENV``, made by ``setup_venv.sh``),
each with a fresh sqlite database under a work directory, on a free port of 127.0.0.1. They run in
their own process group and are stopped (the whole group) when their ``with`` block ends, whatever
ends it: an exception, Ctrl-C, or SIGTERM/SIGHUP (see :func:`stop_on_signals`). If the harness
itself is killed outright, the kernel sends the servers SIGTERM (``PR_SET_PDEATHSIG``).

Galaxy runs its jobs with the local runner and conda switched off. A tool's requirement on
``genome-plugin`` is resolved the way an administrator would resolve it today: Galaxy's
``galaxy_packages`` resolver finds ``<tool_dependency_dir>/genome-plugin/<version>/env.sh``, which puts
the project's environment ``bin/`` first on the job's ``PATH`` (the ``packages`` argument).

Only the standard library is used, so any Python 3.11 can import this module.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_GALAXY_VENV = HERE / ".venv-galaxy"
DEFAULT_PROJECT_VENV = REPO / ".venv"
ADMIN_EMAIL = "ci@example.org"
ADMIN_USERNAME = "ci"
# Loopback only: never let a proxy setting send the harness's requests elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PR_SET_PDEATHSIG = 1


def log(message: str) -> None:
    """Print a harness progress line with the wall-clock time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def stop_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into ``SystemExit`` so that every ``finally`` (server stop) runs."""

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _exit)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base_url: str, path: str, *, key: str | None = None, payload: Any = None, method: str | None = None,
        timeout: float = 120) -> Any:
    """Call a Galaxy or Tool Shed JSON API; an HTTP error raises with the server's message."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(f"{base_url}/api/{path}", data=data,
                                     method=method or ("GET" if data is None else "POST"))
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("x-api-key", key)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as err:
        detail = err.read()[:500].decode(errors="replace")
        msg = f"{request.method} {base_url}/api/{path} failed: HTTP {err.code}: {detail}"
        raise RuntimeError(msg) from err
    return json.loads(body) if body else None


def server_env(galaxy_venv: Path) -> dict[str, str]:
    """The environment the servers, their jobs and the clients run with: no proxies, the Galaxy environment.

    Its ``bin/`` goes first on ``PATH`` (``hg`` for Tool Shed clones); ``VIRTUAL_ENV`` makes Galaxy's own
    jobs, such as metadata setting, activate it.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME") and "proxy" not in k.lower()}
    env["PATH"] = os.pathsep.join([str(galaxy_venv / "bin"), env.get("PATH", "/usr/bin:/bin")])
    env["VIRTUAL_ENV"] = str(galaxy_venv)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def running(name: str, command: Sequence[str], *, env: dict[str, str], log_path: Path, ready_url: str | None = None,
            ready_text: str | None = None, timeout: float, stop_timeout: float = 30) -> Iterator[subprocess.Popen]:
    """Run ``command`` in its own process group until the block ends.

    Waits until ``ready_url`` answers, or until ``ready_text`` appears in the log.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_die_with_parent)
    log(f"{name}: started (pid {proc.pid}), log {log_path}")
    try:
        started = time.monotonic()
        while True:
            if proc.poll() is not None:
                msg = (f"{name} exited with status {proc.returncode} while starting; "
                       f"last lines of {log_path}:\n{tail(log_path)}")
                raise RuntimeError(msg)
            if _ready(ready_url, ready_text, log_path):
                break
            if time.monotonic() - started > timeout:
                msg = f"{name} was not ready within {timeout:.0f} s; last lines of {log_path}:\n{tail(log_path)}"
                raise RuntimeError(msg)
            time.sleep(1)
        log(f"{name}: up after {time.monotonic() - started:.0f} s")
        yield proc
    finally:
        _stop(name, proc, stop_timeout)


def _ready(url: str | None, text: str | None, log_path: Path) -> bool:
    if url is not None:
        try:
            with _OPENER.open(url, timeout=5):
                return True
        except (urllib.error.URLError, OSError):
            return False
    return text is not None and text in log_path.read_text(errors="replace")


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Galaxy starts its jobs in process groups of their own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(name: str, proc: subprocess.Popen, timeout: float) -> None:
    orphans = _descendants(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # Workers the server forked stay in its process group, jobs run in groups of their own: none outlives it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in orphans:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    log(f"{name}: stopped")


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def create_user(base_url: str, bootstrap_key: str, *, email: str, username: str) -> tuple[str, str]:
    """Create a user with the bootstrap admin key; returns (user id, the user's new API key)."""
    user = api(base_url, "users", key=bootstrap_key,
               payload={"email": email, "username": username, "password": secrets.token_urlsafe(16)})
    key = api(base_url, f"users/{user['id']}/api_key", key=bootstrap_key, payload={})
    return user["id"], key


def _sqlite(path: Path) -> str:
    return f"sqlite:///{path}?isolation_level=IMMEDIATE"


def _write_yaml_mapping(path: Path, section: str, values: dict[str, Any]) -> None:
    # JSON is YAML: no YAML library needed to write the server configs.
    path.write_text(json.dumps({section: values}, indent=2) + "\n")


@dataclasses.dataclass(frozen=True)
class Galaxy:
    """A running Galaxy: its URL and the API key of an admin user (who also runs the tests)."""

    url: str
    key: str
    root: Path


@dataclasses.dataclass(frozen=True)
class ToolShed:
    """A running Tool Shed: its URL, and the owner that publishes and that user's API key."""

    url: str
    owner: str
    key: str
    root: Path


def _no_tables(root: Path) -> Path:
    path = root / "tool_data_table_conf.xml"
    path.write_text("<tables/>\n")
    return path


@contextlib.contextmanager
def galaxy_server(root: Path, *, galaxy_venv: Path, packages: dict[tuple[str, str], Path] | None = None,
                  tool_dirs: Sequence[Path] = (),
                  data_table_conf: Path | None = None, tool_shed_url: str | None = None, celery: bool = True,
                  job_env: dict[str, str] | None = None, timeout: float = 300) -> Iterator[Galaxy]:
    """A Galaxy with a fresh database under ``root``.

    ``tool_dirs`` are loaded into one tool panel section; ``data_table_conf`` is a
    ``tool_data_table_conf.xml`` for cached data (reference genomes, models); with
    ``tool_shed_url`` Galaxy may install from that Tool Shed (into ``root/shed_tools``). ``packages``
    maps a requirement (name, version) to the ``bin/`` folder that satisfies it. ``job_env`` is added to
    the environment the server, and so its jobs, run with.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bootstrap_key = secrets.token_hex(16)
    tool_conf = root / "tool_conf.xml"
    tool_dir_lines = "".join(f'<tool_dir dir="{d.resolve()}"/>' for d in tool_dirs)
    tool_conf.write_text(f'<toolbox><section id="genome_plugin" name="genome-plugin">{tool_dir_lines}</section>'
                         "</toolbox>\n")
    shed_tool_conf = root / "shed_tool_conf.xml"
    shed_tool_conf.write_text(f'<?xml version="1.0"?>\n<toolbox tool_path="{root / "shed_tools"}">\n</toolbox>\n')
    sheds = root / "tool_sheds_conf.xml"
    shed_line = f'<tool_shed name="Local" url="{tool_shed_url}/"/>' if tool_shed_url else ""
    sheds.write_text(f'<?xml version="1.0"?>\n<tool_sheds>{shed_line}</tool_sheds>\n')
    settings: dict[str, Any] = {
        "data_dir": str(root / "data"),
        "database_connection": _sqlite(root / "universe.sqlite"),
        "install_database_connection": _sqlite(root / "install.sqlite"),
        "tool_config_file": f"{tool_conf},{shed_tool_conf}",
        "shed_tool_config_file": str(shed_tool_conf),
        "tool_sheds_config_file": str(sheds),
        "tool_dependency_dir": str(root / "deps"),
        "tool_data_path": str(root / "tool-data"),
        "conda_auto_init": False,
        "conda_auto_install": False,
        "admin_users": ADMIN_EMAIL,
        "bootstrap_admin_api_key": bootstrap_key,
        "id_secret": secrets.token_hex(16),
        "watch_tools": "false",
        "cleanup_job": "onsuccess",
        # Loopback only: no container resolution (it downloads involucro) and only our data tables
        # (Galaxy's sample set fetches a genome list from the web).
        "involucro_auto_init": False,
        "enable_mulled_containers": False,
        "container_resolvers": [],
        "tool_data_table_config_path": str(data_table_conf.resolve() if data_table_conf else _no_tables(root)),
    }
    if celery:
        # Uploads and metadata run in one long-lived worker instead of a fresh Python per job
        # (each of those pays Galaxy's import time, ~12 s on 2 cores).
        settings.update({"enable_celery_tasks": True, "metadata_strategy": "directory_celery"})
    config = root / "galaxy.yml"
    _write_yaml_mapping(config, "galaxy", settings)
    url = f"http://127.0.0.1:{port}"
    command = [str(galaxy_venv / "bin" / "galaxy-web"), "-c", str(config), "-b", f"127.0.0.1:{port}"]
    for (name, version), bin_dir in (packages or {}).items():
        package = root / "deps" / name / version
        package.mkdir(parents=True, exist_ok=True)
        (package / "env.sh").write_text(f'PATH="{bin_dir.resolve()}:$PATH"; export PATH\n')
    env = {**server_env(galaxy_venv), **(job_env or {}), "GALAXY_CONFIG_FILE": str(config)}
    with contextlib.ExitStack() as stack:
        stack.enter_context(running("galaxy", command, env=env, log_path=root / "galaxy.log",
                                    ready_url=f"{url}/api/version", timeout=timeout))
        if celery:
            # Started once Galaxy has created the database, so the two never race to create it.
            worker = [str(galaxy_venv / "bin" / "celery"), "--app", "galaxy.celery", "worker", "--pool", "threads",
                      "--concurrency", "2", "--queues", "celery,galaxy.internal,galaxy.external", "--loglevel", "INFO"]
            stack.enter_context(running("celery worker", worker, env=env, log_path=root / "celery.log",
                                        ready_text=" ready.", timeout=timeout, stop_timeout=5))
        _, key = create_user(url, bootstrap_key, email=ADMIN_EMAIL, username=ADMIN_USERNAME)
        yield Galaxy(url=url, key=key, root=root)


@contextlib.contextmanager
def tool_shed_server(root: Path, *, galaxy_venv: Path, owner: str, categories: Sequence[str] = (),
                     timeout: float = 180) -> Iterator[ToolShed]:
    """A Tool Shed with a fresh database under ``root``, an owner with a key, and ``categories``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bootstrap_key = secrets.token_hex(16)
    owner_email = f"{owner}@example.org"
    for sub in ("files", "tmp", "hgweb", "whoosh", "model_cache"):
        (root / sub).mkdir(exist_ok=True)
    settings = {
        "database_connection": _sqlite(root / "shed.sqlite"),
        "file_path": str(root / "files"),
        "new_file_path": str(root / "tmp"),
        "hgweb_config_dir": str(root / "hgweb"),
        "whoosh_index_dir": str(root / "whoosh"),
        "model_cache_dir": str(root / "model_cache"),
        "shed_tool_data_table_config": str(root / "shed_tool_data_table_conf.xml"),
        "admin_users": owner_email,
        "bootstrap_admin_api_key": bootstrap_key,
        "id_secret": secrets.token_hex(16),
        "use_heartbeat": False,
        "tool_shed_url": url,
    }
    config = root / "tool_shed.yml"
    _write_yaml_mapping(config, "tool_shed", settings)
    env = server_env(galaxy_venv)
    env["TOOL_SHED_CONFIG_FILE"] = str(config)
    command = [str(galaxy_venv / "bin" / "uvicorn"), "--factory", "tool_shed.webapp.fast_factory:factory",
               "--host", "127.0.0.1", "--port", str(port)]
    with running("tool shed", command, env=env, log_path=root / "tool_shed.log", ready_url=f"{url}/api/version",
                 timeout=timeout):
        _, key = create_user(url, bootstrap_key, email=owner_email, username=owner)
        for category in categories:
            api(url, "categories", key=bootstrap_key, payload={"name": category, "description": category})
        yield ToolShed(url=url, owner=owner, key=key, root=root)


def run_logged(command: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> int:
    """Run a client command (planemo, ephemeris), output to the console and ``log_path``; its exit status."""
    log(f"$ {' '.join(str(c) for c in command)}")
    started = time.monotonic()
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            sys.stdout.buffer.write(line)
            sys.stdout.flush()
        status = proc.wait()
    log(f"exit status {status} after {time.monotonic() - started:.0f} s")
    return status
