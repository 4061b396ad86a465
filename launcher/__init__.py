"""The launcher: `make run`'s supervisor, one command per process role, the embedded services.

`python -m launcher.run` (`make run`) starts everything for development; `python -m
launcher.serve web|worker|dispatcher|copier` starts one process once its services answer (production
runs one per container or unit); `launcher.web` is the web server; `launcher.embedded` holds the
port layout, the state directory and the embedded Redis and S3 that development and tests use.
"""
