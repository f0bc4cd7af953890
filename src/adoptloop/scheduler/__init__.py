"""`adoptloop serve`: the nightly pipeline on APScheduler 3, its jobs, health and retention.

APScheduler is imported by `jobs` and `service` only; `health` and `retention` are plain code
that `adoptloop status` and `retention purge` use too. Their SQL, like the run locks, is the
store's (store/locks.py, runs.py, retention.py).
"""
