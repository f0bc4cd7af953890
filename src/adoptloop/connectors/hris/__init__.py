"""HRIS connectors: SCIM 2.0, Workday Report-as-a-Service, BambooHR.

Each yields effective-dated `Person` rows: `valid_from` is the change date when the source
gives one, else the run date, so the store closes the old row and opens a new one when a
manager, region or role changes (see `adoptloop.store.records.upsert_people`).
"""
