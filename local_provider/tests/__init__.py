"""Tests of the local provider, over real HTTP."""
