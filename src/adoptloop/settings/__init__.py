"""Configuration: one YAML file -> frozen pydantic models.

- yaml.py: read YAML, remembering where each value was written; resolve secret references.
- located.py: pydantic errors as `file:line:col dotted.path: message (did you mean ...)`.
- model.py: the Settings model and its sections; schedule.py: the schedule and retention sections.
- capabilities.py: the capability map file -> mappings.capability_map.CapabilityMap.
"""
