"""Connectors: one per source system, each yielding domain records (adoptloop.domain)."""
