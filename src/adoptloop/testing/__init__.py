"""The connector test kit shipped for plugin authors' tests: `FakeApi` (fake_api.py) and the
standard checks `ConnectorContract` (kit.py). The test servers live in the repository's
tests/harness/."""
