"""Runnable scenario workloads."""
