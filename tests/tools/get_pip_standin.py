"""Offline stand-in for ansible-test's get-pip bootstrap.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which
these machines cannot reach. This bootstraps pip with ensurepip, then
installs what ansible-test asked for from the configured package index.
"""
import ensurepip
import os
import subprocess
import sys

if __name__ == '__main__':
    ensurepip.bootstrap(upgrade=True)
    os.environ.pop('PIP_CONFIG_FILE', None)  # ensurepip sets it to /dev/null
    args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)
