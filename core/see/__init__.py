"""Seeing pictures: describing a photo in Latvian (describe.py)."""
