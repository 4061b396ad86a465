"""Selfies, jobs, the job state machine, the jobs API and dispatch."""
