"""Live progress over WebSockets and in-app, push and email notifications."""
