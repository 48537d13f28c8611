# karbor.protection: developer and CI entry points.
#   make demo   install, start the bundled test cloud, back up and restore on it
#   make test   install, sanity + unit tests, lint, docs, start the cloud, integration and
#               reliability tests, stop it
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY312 ?= $(firstword $(wildcard /root/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12))
VENV ?= .venv
VENV312 ?= .venv312
DOCS_VENV ?= .venv-docs
CLOUD_BASE ?= /tmp/karbor-cloud
# integration test files run on this many pytest-xdist workers (each file on one worker;
# the tests isolate by resource and catalog container). Reliability runs alone: it compares
# whole-project snapshots.
INTEGRATION_WORKERS ?= 2
export KARBOR_CLOUD_BASE := $(CLOUD_BASE)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/collections
export OS_CLIENT_CONFIG_FILE := $(CLOUD_BASE)/clouds.yaml

.PHONY: venv venv312 collections demo test sanity units integration reliability unit-py312 cloud-up cloud-down lint docs bench

$(VENV)/.installed: requirements.txt tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q 'ansible-core>=2.19,<2.20' -r requirements.txt -r tests/requirements.txt
	touch $@

venv: $(VENV)/.installed collections

$(VENV312)/.installed: requirements.txt tests/requirements.txt
	$(PY312) -m venv $(VENV312)
	$(VENV312)/bin/pip install -q --upgrade pip
	$(VENV312)/bin/pip install -q ansible-core -r requirements.txt -r tests/requirements.txt
	touch $@

venv312: $(VENV312)/.installed

$(DOCS_VENV)/.installed: docs/requirements.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install -q --upgrade pip
	$(DOCS_VENV)/bin/pip install -q -r docs/requirements.txt
	touch $@

# Module and role docs from DOCUMENTATION and meta/argument_specs.yml into docs/build/html;
# fails on any antsibull-docs lint finding or Sphinx warning.
docs: $(DOCS_VENV)/.installed collections
	PATH=$(CURDIR)/$(DOCS_VENV)/bin:$$PATH docs/sphinx/build.sh

collections:
	@mkdir -p collections/ansible_collections/karbor
	@ln -sfn $(CURDIR) collections/ansible_collections/karbor/protection

cloud-up:
	tests/cloud/up

cloud-down:
	tests/cloud/down

demo: venv cloud-up
	$(VENV)/bin/ansible-playbook -e ansible_python_interpreter=$(abspath $(VENV))/bin/python \
	  -e cloud=karbor-a playbooks/demo.yml

sanity: venv
	tests/tools/ansible_test.sh $(abspath $(VENV)) $$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') sanity

units: venv
	tests/tools/ansible_test.sh $(abspath $(VENV)) $$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') units

integration: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider -v -n $(INTEGRATION_WORKERS) --dist loadfile --durations=25 tests/integration

reliability: venv
	$(VENV)/bin/python -m pytest -p no:cacheprovider -v --durations=25 tests/reliability

unit-py312:
	@if [ -n "$(PY312)" ]; then \
	  $(MAKE) venv312 && \
	  tests/tools/ansible_test.sh $(abspath $(VENV312)) 3.12 sanity && \
	  tests/tools/ansible_test.sh $(abspath $(VENV312)) 3.12 units; \
	else echo "Python 3.12 not found: skipping the newest ansible-core leg"; fi

lint: venv
	$(VENV)/bin/ansible-lint --profile production roles playbooks; status=$$?; rm -rf .ansible; exit $$status

test: venv sanity units lint docs unit-py312
	KARBOR_CLOUD_BENCH_AZ=1 tests/cloud/up
	status=0; $(MAKE) integration || status=$$?; \
	  $(MAKE) reliability || status=$$?; \
	  tests/cloud/down; exit $$status

# Benchmarks on the test cloud (started if needed, left running); see benchmarks/README.md.
bench: venv
	KARBOR_CLOUD_BENCH_AZ=1 tests/cloud/up
	$(VENV)/bin/python -W ignore benchmarks/module_overhead.py
	$(VENV)/bin/python -W ignore benchmarks/checkpoint_list.py
	PYTHONPATH=collections $(VENV)/bin/python -W ignore benchmarks/image_protect.py
	PYTHONPATH=collections $(VENV)/bin/python -W ignore benchmarks/disaster_recovery.py
	$(VENV)/bin/python -W ignore benchmarks/volumes_parallel.py
	$(VENV)/bin/python -W ignore benchmarks/volumes_parallel.py --availability-zone bench
