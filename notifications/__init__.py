"""Telling users what happened: live updates over WebSockets (`sockets/`) and in-app, email and
Web Push notifications (`deliveries/`)."""
