# Every target installs what it needs into .venv first, so each works on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench sysdeps clean

$(STAMP): pyproject.toml
	@bash scripts/sysdeps.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

demo: $(STAMP)
	mkdir -p out
	$(VENV)/bin/citywalk render examples/demo.yaml -o out/demo.mp4

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) benchmarks/render_walk.py
	$(PY) benchmarks/weather_cost.py
	$(PY) benchmarks/look_cost.py
	$(PY) benchmarks/crowd_cost.py
	$(PY) benchmarks/render_splats.py
	$(PY) benchmarks/import_osm.py
	$(PY) benchmarks/encode_speed.py
	$(PY) benchmarks/likeness_capture.py
	$(PY) benchmarks/train_step.py
	$(PY) benchmarks/capture_eval.py
	$(PY) benchmarks/studio_preview.py
	$(PY) benchmarks/studio_load.py

clean:
	rm -rf $(VENV) out
