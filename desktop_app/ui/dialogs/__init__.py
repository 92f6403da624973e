"""Modal dialogs, kept apart from the main window so each can be built and tested alone."""
