"""The Salesforce connector (Veeva CRM on Salesforce, or a generic org): one module per concern.

`connector` (the `salesforce` entry point), `config` (its YAML), `auth` (simple-salesforce
logins), `client` (every API call: errors, retries, re-login, API budget), `query` and `bulk`
(SOQL windows over REST and Bulk API 2.0), `cursor` (positions and windows), `schema`
(describe), `sync` (one stream's incremental sync), `records`, `veeva` and `generic` (rows ->
domain records).
"""
