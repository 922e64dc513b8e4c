"""Shared building blocks: encrypted fields, phone numbers, API plumbing, layout."""
