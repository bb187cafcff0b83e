"""Desired and live → the plan: the diff, normalisation, element-level descriptions, the plan value and
its changes, plan files, dedupe and targeting."""
