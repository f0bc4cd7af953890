"""CRM connectors: Salesforce (Veeva CRM calls and coaching reports, or a generic org) and
Vault CRM (`vault-crm`), which yield the same records."""
