"""The Vault CRM connector (Veeva's successor to CRM on Salesforce): one module per concern.

`connector` (the `vault-crm` entry point), `config` (its YAML), `client` (every API call:
session auth, errors inside HTTP 200, burst-limit pacing), `query` (VQL windows, lookups,
deletions), `sync` (one stream's incremental read and its cursor), `records` (rows -> domain
records).
"""
