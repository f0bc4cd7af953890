"""`adoptloop serve`: the nightly pipeline on APScheduler 3, the store locks, health and retention.

APScheduler is imported by `jobs` and `service` only; `lock`, `health` and `retention` are
plain store code that `adoptloop run` and `status` use too.
"""
