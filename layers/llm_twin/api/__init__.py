"""The HTTP API: one powertools resolver (routes, pydantic models, OpenAPI) behind API Gateway, and a
local server that turns HTTP requests into the same proxy events for the same Lambda handler."""
