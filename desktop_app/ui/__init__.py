"""Folio's Qt layer."""
