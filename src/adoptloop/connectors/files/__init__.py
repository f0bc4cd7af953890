"""File connectors: the nightly CSV / JSON Lines drops many customers hand over.

- `file-people` (HRIS, people.py): one row per person, or several per person with `valid_from`
  for history.
- `file-completions` (LMS, completions.py): one row per completion.
- `file-coaching` (CRM, coaching.py): coaching reports with ratings as columns (or a separate
  file with one row per rating), plus optional users, development actions and calls files.
- reading.py: rows with their line numbers from CSV or JSON Lines, and each file's cursor.

Each file's cursor is its content hash: an unchanged drop is not even parsed, and a changed
one is re-read whole and upserted by record id, so only rows that really changed move on.
"""
