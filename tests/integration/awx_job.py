# -*- coding: utf-8 -*-
"""Run playbooks the way AWX runs a job, so that tests prove the collection
is stateless between jobs.

What AWX does and this harness copies (awx/main/tasks/jobs.py and the
OpenStack credential injector): the collection is installed from its built
tarball into the execution environment's collections path; every job gets a
new private data dir and a new HOME (the throwaway container); the OpenStack
credential is a one-cloud clouds.yaml (cloud ``devstack``) named by
``OS_CLIENT_CONFIG_FILE`` in ``env/envvars``; ``env/extravars`` holds the
``awx_*`` and ``tower_*`` variables; the job is ``ansible-runner run``; the
job's result is read from its events. Nothing of one job is visible to the
next except what the cloud holds. ``kill()`` ends a job as a vanished
container does: every process of the job dies at once, detached ones too.
"""
from __future__ import annotations

import glob
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BIN = os.path.dirname(sys.executable)
#: variables of the test process that an AWX job never has
NOT_IN_A_JOB = ('OS_CLOUD', 'OS_CLIENT_CONFIG_FILE', 'KARBOR_STATE_DIR', 'KARBOR_FAKE_NOW',
                'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS', 'KARBOR_PROVIDERS_DIR',
                'KARBOR_CATALOG', 'KARBOR_FAULT')
#: the events that carry a task's result (runner_on_start does not)
RESULT_EVENTS = ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped',
                 'runner_on_unreachable')


def build_collection(workdir: str) -> str:
    """``ansible-galaxy collection build`` then ``install`` into an EE-like
    collections folder; returns that folder."""
    dist = os.path.join(workdir, 'dist')
    target = os.path.join(workdir, 'ee-collections')
    galaxy = os.path.join(BIN, 'ansible-galaxy')
    subprocess.run([galaxy, 'collection', 'build', '--force', '--output-path', dist, REPO],
                   check=True, capture_output=True, text=True)
    tarball = glob.glob(os.path.join(dist, 'karbor-protection-*.tar.gz'))[0]
    subprocess.run([galaxy, 'collection', 'install', '--force', '--no-deps', '-p', target,
                    tarball], check=True, capture_output=True, text=True)
    return target


def one_cloud_clouds_yaml(clouds_yaml: str, cloud_name: str) -> str:
    """The text AWX's OpenStack credential writes: one cloud named devstack."""
    with open(clouds_yaml, encoding='utf-8') as handle:
        entry = yaml.safe_load(handle)['clouds'][cloud_name]
    auth = entry['auth']
    devstack = {'auth': {k: auth[k] for k in ('auth_url', 'username', 'password', 'project_name',
                                              'project_domain_name', 'user_domain_name')},
                'verify': False}
    if entry.get('region_name'):
        devstack['region_name'] = entry['region_name']
    return yaml.safe_dump({'clouds': {'devstack': devstack}}, default_flow_style=False)


def job_processes(home: str) -> list[int]:
    """Every live process whose environment has this job's HOME: the job's
    processes, detached children included (they left the process tree)."""
    marker = ('HOME=%s' % home).encode()
    pids = []
    for path in glob.glob('/proc/[0-9]*/environ'):
        try:
            with open(path, 'rb') as handle:
                environ = handle.read().split(b'\0')
        except OSError:
            continue
        if marker in environ:
            pids.append(int(path.split('/')[2]))
    return [pid for pid in pids if pid != os.getpid()]


@dataclass
class JobResult:
    rc: int
    status: str
    stdout: str
    events: list[dict] = field(default_factory=list)

    def task_results(self, task: str) -> list[dict]:
        """``res`` of every ok/failed/skipped event of the task of that name."""
        return [e['event_data'].get('res', {}) for e in self.events
                if e.get('event') in RESULT_EVENTS and e['event_data'].get('task') == task]

    def result(self, task: str) -> dict:
        found = self.task_results(task)
        assert found, 'task %r did not run; job output:\n%s' % (task, self.stdout[-4000:])
        return found[-1]

    def failed_tasks(self) -> list[str]:
        return [e['event_data'].get('task') for e in self.events
                if e.get('event') in ('runner_on_failed', 'runner_on_unreachable')
                and not e['event_data'].get('ignore_errors')]


class AwxJob:
    """One job: its private data dir is made on construction, run by start()."""

    def __init__(self, jobs: 'AwxJobs', playbook: str, extravars: dict, envvars: dict,
                 cloud_name: str, job_id: int) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.ident = 'job-%d' % job_id
        self.pdd = os.path.join(jobs.workdir, 'job-%d' % job_id)
        self.home = os.path.join(self.pdd, 'home')
        for sub in ('project', 'env', 'inventory', 'home'):
            os.makedirs(os.path.join(self.pdd, sub))
        project = os.path.join(self.pdd, 'project')
        for name in os.listdir(jobs.project_dir):
            source = os.path.join(jobs.project_dir, name)
            copy = shutil.copytree if os.path.isdir(source) else shutil.copy
            copy(source, os.path.join(project, name))
        self.playbook = playbook
        credential = os.path.join(self.pdd, 'env', 'clouds.yaml')
        with open(credential, 'w', encoding='utf-8') as handle:
            handle.write(one_cloud_clouds_yaml(jobs.cloud.clouds_yaml, cloud_name))
        env = {'OS_CLIENT_CONFIG_FILE': credential, 'HOME': self.home,
               'ANSIBLE_COLLECTIONS_PATH': jobs.collections, 'ANSIBLE_NOCOLOR': '1',
               'ANSIBLE_LOCALHOST_WARNING': 'False',
               'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False'}
        env.update(jobs.template_env)
        # '{pdd}' in a value is this job's private data dir (files of the job's project)
        env.update({k: str(v).replace('{pdd}', self.pdd) for k, v in envvars.items()})
        self.envvars = env
        extra = {'awx_job_id': job_id, 'awx_job_template_id': 7,
                 'awx_job_launch_type': 'scheduled' if 'awx_schedule_id' in extravars
                 else 'manual'}
        extra.update({'tower_' + k[4:]: v for k, v in extra.items()})
        for key, value in list(extravars.items()):
            extra[key] = value
            if key.startswith('awx_'):
                extra['tower_' + key[4:]] = value
        self.extravars = extra
        for name, data in (('envvars', env), ('extravars', extra),
                           ('settings', {'suppress_ansible_output': False})):
            with open(os.path.join(self.pdd, 'env', name), 'w', encoding='utf-8') as handle:
                json.dump(data, handle)
        with open(os.path.join(self.pdd, 'inventory', 'hosts'), 'w', encoding='utf-8') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                         % sys.executable)
        self.proc: subprocess.Popen | None = None

    def start(self) -> 'AwxJob':
        environ = {k: v for k, v in os.environ.items()
                   if k not in NOT_IN_A_JOB and not k.startswith('KARBOR_')}
        environ['HOME'] = self.home
        environ['PATH'] = BIN + os.pathsep + os.environ.get('PATH', '')
        self.proc = subprocess.Popen(
            [os.path.join(BIN, 'ansible-runner'), 'run', self.pdd, '-p', self.playbook,
             '--ident', self.ident], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=environ, cwd=self.pdd, start_new_session=True)
        return self

    def wait(self, timeout: float = 1200, check: bool = True) -> JobResult:
        assert self.proc is not None, 'start() the job first'
        output = self.proc.communicate(timeout=timeout)[0]
        result = self.collect(self.proc.returncode, output)
        if check:
            assert result.rc == 0 and result.status == 'successful', (
                'AWX job %s (%s) ended %s (rc %d):\n%s' % (
                    self.job_id, self.playbook, result.status, result.rc,
                    result.stdout[-6000:]))
        return result

    def events(self) -> list[dict]:
        folder = os.path.join(self.pdd, 'artifacts', self.ident, 'job_events')
        found = []
        for path in glob.glob(os.path.join(folder, '*.json')):
            try:
                with open(path, encoding='utf-8') as handle:
                    found.append(json.load(handle))
            except (OSError, ValueError):
                continue  # being written
        return sorted(found, key=lambda e: e.get('counter', 0))

    def collect(self, rc: int, output: str) -> JobResult:
        status_file = os.path.join(self.pdd, 'artifacts', self.ident, 'status')
        status = 'unknown'
        if os.path.exists(status_file):
            with open(status_file, encoding='utf-8') as handle:
                status = handle.read().strip()
        return JobResult(rc, status, output, self.events())

    def kill(self) -> None:
        """SIGKILL every process of the job at once, as when its container goes."""
        assert self.proc is not None
        for _round in range(3):  # a fork between the scan and the kill is caught next round
            for pid in [self.proc.pid] + job_processes(self.home):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        self.proc.wait(timeout=60)


class AwxJobs:
    """Makes AWX-style jobs against the test cloud; the collection is built
    and installed once per harness."""

    _ids = itertools.count(1000)

    def __init__(self, cloud, workdir: str, project_dir: str, collections: str,
                 template_env: dict | None = None) -> None:
        self.cloud = cloud
        self.workdir = workdir
        self.project_dir = project_dir
        self.collections = collections
        self.template_env = template_env or {}  # the job template's environment variables

    def job(self, playbook: str, extravars: dict | None = None, envvars: dict | None = None,
            cloud_name: str | None = None) -> AwxJob:
        return AwxJob(self, playbook, extravars or {}, envvars or {},
                      cloud_name or self.cloud.a, next(self._ids))

    def run(self, playbook: str, extravars: dict | None = None, envvars: dict | None = None,
            cloud_name: str | None = None, check: bool = True) -> JobResult:
        return self.job(playbook, extravars, envvars, cloud_name).start().wait(check=check)

    def run_together(self, specs: list[tuple[str, dict, dict]],
                     check: bool = True) -> list[JobResult]:
        """Start several jobs at once (as on several AWX nodes) and wait for all."""
        started = [self.job(playbook, extra, env).start() for playbook, extra, env in specs]
        return [job.wait(check=check) for job in started]
