"""The studio: the pages of the app (create, a job live, my videos, settings), their templates
and static files, and the service worker."""
