# Fresh machine: `make demo` or `make test`. Both create .venv themselves.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMF_JAR := /usr/share/java/eclipse-emf-ecore-xmi.jar
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test system-deps install clean

$(STAMP): setup.cfg pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[frameworks,test]'
	touch $@

install: $(STAMP)

# From Debian: Eclipse EMF and a JDK (metamodel/XMI conformance test), Graphviz (diagram test).
system-deps:
	@if [ ! -f $(EMF_JAR) ] || ! command -v javac >/dev/null || ! command -v dot >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO apt-get install -y -qq libeclipse-emf-ecore-xmi-java default-jdk-headless graphviz >/dev/null; \
	fi

# Two workers (pytest-xdist): the suite is mostly single-threaded framework calls, and the machine has two cores.
test: $(STAMP) system-deps
	$(PY) -m pytest -q -n 2

demo: $(STAMP)
	$(PY) samples/demo.py

clean:
	rm -rf $(VENV) build *.egg-info
