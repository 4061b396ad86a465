"""The dispatch engine: fair-share queue, provider slots, breakers, polling, mirroring.

Orchestration: it decides when, and changes jobs through jobs.services; only the bookkeeping of
leases and polls is written here.
"""
