"""Provider names: every spelling seen in the wild → one canonical name.

Canonical names are those of the proxy routes (openai, anthropic, gemini, azure, mistral,
openrouter, groq, deepseek, xai, cohere); other providers keep their semconv name
(``aws.bedrock`` → ``bedrock``, ``perplexity``, ``moonshot_ai``, …) lower-cased.
"""
from __future__ import annotations

ALIASES = {
    "openai": "openai",
    "azure": "azure", "azure.ai.openai": "azure", "azure_openai": "azure", "az.ai.openai": "azure",
    "azure.ai.inference": "azure", "azure_ai": "azure", "azure.openai": "azure",
    "anthropic": "anthropic", "claude": "anthropic",
    "gemini": "gemini", "gcp.gemini": "gemini", "gcp.gen_ai": "gemini", "google": "gemini",
    "google_genai": "gemini", "google.genai": "gemini", "google_ai_studio": "gemini",
    "google.generative-ai": "gemini", "googleai": "gemini",
    "vertex_ai": "vertex_ai", "gcp.vertex_ai": "vertex_ai", "vertexai": "vertex_ai", "google.vertex": "vertex_ai",
    "mistral": "mistral", "mistral_ai": "mistral", "mistralai": "mistral",
    "openrouter": "openrouter",
    "groq": "groq",
    "deepseek": "deepseek", "deepseek_ai": "deepseek",
    "xai": "xai", "x_ai": "xai", "x-ai": "xai", "grok": "xai",
    "cohere": "cohere", "cohere_ai": "cohere",
    "aws.bedrock": "bedrock", "bedrock": "bedrock", "aws_bedrock": "bedrock",
}


def canonical_provider(value: object) -> str | None:
    """The canonical provider for a provider attribute value, or None if it is not a name.

    Vercel-style values (``openai.chat``, ``anthropic.messages``) resolve through their
    first segment when the whole value is not a known spelling.
    """
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    if not v:
        return None
    known = ALIASES.get(v)
    if known:
        return known
    head = v.split(".", 1)[0]
    return ALIASES.get(head, v)
