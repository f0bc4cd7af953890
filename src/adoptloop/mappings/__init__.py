"""Mappings: the capability map, identity resolution, and record -> statement translators."""
