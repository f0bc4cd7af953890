"""Neutral HTTP kit: status classification, retry policy, auth and a REST client."""
