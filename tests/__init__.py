"""The project test suite (a regular package: a dependency of the SageMaker SDK, smdebug-rulesconfig,
installs a top-level ``tests`` package that would otherwise shadow this folder)."""
