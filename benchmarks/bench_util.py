# -*- coding: utf-8 -*-
# Copyright: karbor.protection contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the benchmarks: paths, timing, ansible-playbook runs and Swift clean-up.

Playbook runs use the venv's ansible-playbook on localhost with the local
connection and the bench_timer callback next to this file, so every figure
is what a playbook user waits for, measured per task.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
COLLECTIONS = os.path.join(REPO, 'collections')


def setup_collection_path() -> None:
    """Make ``ansible_collections.karbor.protection`` importable (the repo is the collection)."""
    link = os.path.join(COLLECTIONS, 'ansible_collections', 'karbor', 'protection')
    if not os.path.exists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(REPO, link)
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


def clouds_yaml() -> str:
    base = os.environ.get('KARBOR_CLOUD_BASE', '/tmp/karbor-cloud')
    return os.environ.get('OS_CLIENT_CONFIG_FILE') or os.path.join(base, 'clouds.yaml')


def machine() -> str:
    return '%d cores, load average %.2f' % (os.cpu_count() or 0, os.getloadavg()[0])


class MachineCPU:
    """Share of all the machine's cores busy between start() and stop() (from
    /proc/stat): near 1.0 means the run was bound by CPU, not by I/O, and
    every extra CPU second of the client slowed the cloud's servers too."""

    @staticmethod
    def _sample() -> tuple[int, int]:
        try:
            with open('/proc/stat', encoding='ascii') as handle:
                fields = [int(v) for v in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return 0, 0
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields) - idle, sum(fields)

    def __init__(self) -> None:
        self.begin = self._sample()

    def busy(self) -> float:
        busy, total = self._sample()
        spent = total - self.begin[1]
        return (busy - self.begin[0]) / spent if spent > 0 else float('nan')


class ProcessCPU:
    """CPU seconds each process spent between construction and ``top()``
    (from /proc/<pid>/stat): which server bounds a run on a shared machine."""

    TICK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100

    @classmethod
    def _sample(cls) -> dict[int, tuple[str, float]]:
        found = {}
        for pid in os.listdir('/proc') if os.path.isdir('/proc') else ():
            if not pid.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % pid, encoding='ascii', errors='replace') as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
                with open('/proc/%s/cmdline' % pid, 'rb') as handle:
                    argv = handle.read().split(b'\0')
            except OSError:
                continue
            name = ' '.join(os.path.basename(a.decode('utf-8', 'replace')) for a in argv[:3] if a)
            found[int(pid)] = (name[:60], (int(fields[11]) + int(fields[12])) / cls.TICK)
        return found

    def __init__(self) -> None:
        self.begin = self._sample()

    def top(self, count: int = 6) -> list[tuple[str, float]]:
        spent: dict[str, float] = {}
        for pid, (name, cpu) in self._sample().items():
            spent[name] = spent.get(name, 0.0) + cpu - self.begin.get(pid, (name, 0.0))[1]
        return sorted(spent.items(), key=lambda item: -item[1])[:count]


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def median_time(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls, and the last call's value."""
    times, value = [], None
    for _round in range(repeat):
        elapsed, value = timed(func)
        times.append(elapsed)
    return statistics.median(times), value


def ansible_playbook() -> str:
    binary = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return binary if os.path.exists(binary) else (shutil.which('ansible-playbook') or binary)


def run_playbook(plays: list[dict], extravars: dict | None = None,
                 env: dict | None = None) -> tuple[float, list[dict]]:
    """Run ``plays`` (YAML-compatible data) in one ansible-playbook process.

    Returns the process's wall time and the bench_timer records, one per
    task result. Exits with the playbook's output when it fails.
    """
    work = tempfile.mkdtemp(prefix='karbor-bench-play-')
    try:
        playbook = os.path.join(work, 'play.yml')
        with open(playbook, 'w', encoding='utf-8') as handle:
            json.dump(plays, handle)  # JSON is YAML
        varfile = os.path.join(work, 'vars.json')
        with open(varfile, 'w', encoding='utf-8') as handle:
            json.dump(extravars or {}, handle)
        times = os.path.join(work, 'times.jsonl')
        run_env = dict(os.environ)
        run_env.update({
            'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(BENCH_DIR, 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
            'KARBOR_BENCH_TIMES': times,
            'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
            'ANSIBLE_LOCALHOST_WARNING': 'False', 'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
            'OS_CLIENT_CONFIG_FILE': clouds_yaml(),
        })
        run_env.update(env or {})
        start = time.perf_counter()
        proc = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', playbook,
                               '-e', '@' + varfile], capture_output=True, text=True,
                              env=run_env, cwd=REPO, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit('ansible-playbook failed (rc %d):\n%s\n%s'
                     % (proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
        records = []
        if os.path.exists(times):
            with open(times, encoding='utf-8') as handle:
                records = [json.loads(line) for line in handle if line.strip()]
        return elapsed, records
    finally:
        shutil.rmtree(work, ignore_errors=True)


def task_seconds(records: list[dict], prefix: str) -> list[float]:
    """Durations of the tasks whose name starts with ``prefix``."""
    return [r['seconds'] for r in records if r['name'].startswith(prefix)]


def swift_factory(conn) -> Callable[[], Any]:
    """A function returning this thread's swiftclient Connection, on the keystone session
    of the openstacksdk connection ``conn`` (swiftclient connections are not thread-safe)."""
    import swiftclient  # pylint: disable=import-outside-toplevel
    local = threading.local()
    endpoint = conn.object_store.get_endpoint()

    def get():
        if not hasattr(local, 'conn'):
            local.conn = swiftclient.Connection(session=conn.session, retries=3,
                                                os_options={'object_storage_url': endpoint})
        return local.conn
    return get


def empty_container(swift: Callable[[], Any], container: str, delete: bool = False) -> None:
    """Delete every object of a Swift container, eight at a time, then the container itself
    when ``delete``; a container that does not exist is left alone. ``swift`` is what
    swift_factory() returns."""
    import swiftclient  # pylint: disable=import-outside-toplevel
    try:
        _headers, listing = swift().get_container(container, full_listing=True)
    except swiftclient.ClientException:
        return
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda o: swift().delete_object(container, o['name']), listing))
    if delete:
        swift().delete_container(container)
