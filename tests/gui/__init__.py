"""Tests of the Qt layer, run offscreen with pytest-qt."""
