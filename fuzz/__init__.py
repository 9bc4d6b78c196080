"""Fuzzing for citywalk's file readers: forked worker pool with memory and time caps
(`harness`), structure-aware mutations (`mutate`) and one target per reader with seeds written by
citywalk's own writers (`targets`).

It is a top-level package beside `citywalk/` (not under tests/) so that both the short pytest run
and `benchmarks/fuzz_readers.py` import the same code, and it is not shipped in the wheel
(pyproject packages only `citywalk*`). `harness` and `mutate` do not import citywalk."""
