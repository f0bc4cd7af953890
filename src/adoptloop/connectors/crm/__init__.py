"""CRM connectors: Salesforce (Veeva CRM calls and coaching reports, or a generic org)."""
