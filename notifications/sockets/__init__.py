"""Live updates over WebSockets: authentication, the consumers, what they send on connect, and
the queue-position broadcast they receive."""
