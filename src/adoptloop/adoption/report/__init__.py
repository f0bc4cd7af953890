"""The adoption report: its numbers (data, assemble), its charts and its self-contained HTML."""
