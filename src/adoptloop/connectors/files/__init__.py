"""File connectors: the nightly CSV / JSON Lines drops many customers hand over.

`reader` reads the files (rows with their line numbers, the shared skip-unchanged loop);
`people` (file-people, HRIS), `completions` (file-completions, LMS) and `coaching`
(file-coaching, CRM) each turn rows into domain records.
"""
