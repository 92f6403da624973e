"""The local OpenAI-compatible API: a view of the same engine queue as the window."""
