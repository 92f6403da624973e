"""What the user creates (conversations, messages, documents, drafts) in SQLite, and
the one migrations mechanism every Folio database uses."""
