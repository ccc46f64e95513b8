# The commands people and CI use. `make test` on a fresh machine builds everything.
VENV   := .venv
PY     := $(VENV)/bin/python
DEPS   := $(VENV)/.deps-installed
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: all build test demo lint fmt bench clean

all: build

$(DEPS): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "maturin>=1.7,<2" "numpy>=1.23" "pytest>=7" "hypothesis>=6" ruff safetensors tqdm \
		wgpu "wgpudawn; python_version >= '3.11'"
	touch $@

# Release build of the extension, installed into the venv in editable mode.
build: $(DEPS)
	$(VENV)/bin/maturin develop --release --quiet

demo: build
	$(PY) -m ferrograd.demo

lint: $(DEPS)
	cargo fmt --check
	cargo clippy --quiet --all-targets -- -D warnings
	cargo clippy --quiet --all-targets --features gpu -- -D warnings
	cargo clippy --quiet --all-targets --features python,gpu -- -D warnings
	$(VENV)/bin/ruff check python tests benchmarks

test: build lint
	cargo test --quiet
	$(PY) -m pytest tests

fmt:
	cargo fmt
	$(VENV)/bin/ruff check --fix python tests benchmarks

bench: build
	$(PY) benchmarks/bench_copy.py
	$(PY) benchmarks/bench_cpu.py
	$(PY) benchmarks/bench_conv.py
	$(PY) benchmarks/bench_image.py
	$(PY) benchmarks/bench_autograd.py
	$(PY) benchmarks/bench_nn.py

clean:
	rm -rf target $(VENV)
