"""`make bench`: the single process and the production profile under the same load script,
side by side, and the cost of a turn as one conversation grows (issue 15).

Run ``python -m load.bench --out reports/bench`` (what ``make bench`` does); see
:mod:`load.bench.__main__` for the options and :mod:`load.bench.script` for the load script.
"""
