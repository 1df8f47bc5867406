# The two commands of the README: `make demo` and `make test`. Each installs what it needs first.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export PATH := $(HOME)/.local/bin:$(PATH)
# uv as a command, or as a module of the Python that installed it (pyenv-style shims may not see it at once).
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)

.PHONY: setup system demo test serve portal airflow clean

# Root installs Debian's packages itself; anyone else through sudo.
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES = chromium fonts-noto-cjk redis-server openjdk-17-jre-headless

# What gridlake needs from Debian, when missing: Chromium (it prints the reports' PDFs; the browser test renders the
# HTML in it), a CJK font (Chinese that renders in the charts, the pages and the PDFs), Redis (the Celery broker
# of the local cluster, simulators/cluster.py, and its test) and Java 17 for pyspark (the dbt project's Spark build,
# tests/dbt/test_spark.py).
system:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q . \
		|| ! command -v redis-server >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then \
		echo "installing $(SYSTEM_PACKAGES) from Debian"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); }; \
	fi

# uv (from PyPI, if the machine has none), then the locked environment in .venv; Debian's packages for reports.
setup: system
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
		|| python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet

# The main job on embedded defaults.
demo: setup
	$(UV) run --frozen gridlake sim demo

test: setup
	$(UV) run --frozen pytest

# Serve the five platforms until interrupted.
serve: setup
	$(UV) run --frozen gridlake sim serve

# The data portal and query service on :8400 over a lake's shared zone (GRIDLAKE_HOME=..., e.g. the demo's; its
# tokens: gridlake portal token issue|list|revoke).
portal: setup
	$(UV) run --frozen gridlake serve

# Airflow's UI on :8080 with the project's DAGs (metadata in var/airflow unless AIRFLOW_HOME= says where, e.g.
# the demo's, as `make demo` prints); the platforms' connections come from AIRFLOW_CONN_* in the environment
# (paste what `make serve` prints).
AIRFLOW_HOME ?= $(CURDIR)/var/airflow
airflow: setup
	AIRFLOW_HOME=$(AIRFLOW_HOME) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
		AIRFLOW__CORE__LOAD_EXAMPLES=False $(UV) run --frozen airflow standalone

clean:
	rm -rf var .pytest_cache
