"""The warehouse: one DynamoDB table (see :mod:`llm_twin.warehouse.schema`) accessed through pynamodb.

Import the submodules directly (``repository``, ``transfer``, ``table``); this package imports nothing
so that ``schema`` stays dependency-free for the CDK app."""
