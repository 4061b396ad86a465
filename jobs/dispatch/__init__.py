"""The dispatch engine: fair-share queue, provider slots, breakers, polling, mirroring."""
