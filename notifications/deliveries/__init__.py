"""Notifications of finished jobs: in-app (with the bell's live count), email and Web Push."""
