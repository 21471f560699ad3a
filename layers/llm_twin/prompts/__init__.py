"""Prompt formats shared by dataset generation, training and serving."""
