# The ways in: run it, test it, measure it. Each installs what it needs first (a .venv from pyproject.toml).
.PHONY: run test bench

run:  ## run the whole app locally with demo data: http://127.0.0.1:8000
	@scripts/run

test:  ## lint, format check and the whole test suite
	@scripts/test

bench:  ## the performance suite against the 100k-restaurant data set (docs/performance.md)
	@scripts/bench
