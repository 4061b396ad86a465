"""Every write about selfies and jobs. Import from the submodules."""
