"""Pluggable AI video providers: submit, poll, cancel and verify webhooks behind one interface."""
