"""The stages of a run: pull -> translate -> deliver -> adoption, each committing before the next reads."""
