"""xAPI (Experience API) support: strict statement validation against the Data section."""
