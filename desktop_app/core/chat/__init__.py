"""Conversations: the controller that runs an answer's lifecycle, the engine queue it
submits to, and the session that plans documents into a context and records turns."""
