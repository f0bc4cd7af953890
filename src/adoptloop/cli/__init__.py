"""The `adoptloop` command: one module per command family, assembled in app.py.

- common.py: options, consoles, settings loading with log redaction, error -> exit status;
- setup.py: version, init, validate, config schema;
- run.py: run, erase;
- sources.py: reset;
- adoption.py: adoption, report;
- status.py: status, runs, quarantine list/retry, statements export;
- service.py: serve, retention purge;
- xapi.py: xapi validate, xapi profile.
"""
