"""nginxgen's benchmarks: `python -m benchmarks` runs them all (see docs/performance.md).

Figures are printed, never asserted: no timing is a test.
"""
