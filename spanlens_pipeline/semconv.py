"""Names from the OpenTelemetry conventions that more than one component needs."""
from __future__ import annotations

# gen_ai.operation.name → span_type, exactly as the OTLP product page maps it.
OPERATION_SPAN_TYPE = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "execute_tool": "tool",
    "embeddings": "embedding",
    "retrieval": "retrieval",
}

SPAN_KIND_NAMES = ("unspecified", "internal", "server", "client", "producer", "consumer")
STATUS_NAMES = ("unset", "ok", "error")


def span_type_for_operation(operation: object) -> str:
    """The span type for a ``gen_ai.operation.name`` value (anything unknown → ``custom``)."""
    return OPERATION_SPAN_TYPE.get(operation, "custom") if isinstance(operation, str) else "custom"
