"""Test helpers shipped with adoptloop (local LRS harness for integration tests)."""
