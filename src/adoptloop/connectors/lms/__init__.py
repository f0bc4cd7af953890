"""LMS connectors: Moodle, SAP SuccessFactors Learning, Cornerstone, Docebo.

Each yields `Completion`s whose learner is a `PersonRef` carrying the attributes its identity
rules match on (email, employee number, ...). Moodle and SuccessFactors also implement the
transcript write-back (`SupportsWriteBack`; `writeback.reference` tags what one writes, see
also `adoptloop.store.writeback`).
"""
