"""The neutral HTTP kit shared by the connectors and the LRS client.

Status classification (`status`), the one retry policy (`retry`), `httpx.Auth` flows (`auth`)
and a retrying httpx client (`client`). It knows no connector, no xAPI, no store and no
settings: callers hand it plain values.
"""
