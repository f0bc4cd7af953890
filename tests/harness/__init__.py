"""The real servers the tests start on 127.0.0.1: a local LRS, ralph, PostgreSQL, a SCIM server,
and headless Chromium. Never shipped: `adoptloop.testing` holds only the connector test kit."""
