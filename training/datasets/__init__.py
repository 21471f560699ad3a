"""Instruction and preference datasets built from the warehouse (see docs/training.md)."""
