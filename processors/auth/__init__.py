"""Auth processor: authenticates the request's Spanlens key and stamps its tenant on every record."""
from __future__ import annotations

from dataclasses import dataclass

from spanlens_pipeline.component import Factory, Host, Kind, Processor, Settings
from spanlens_pipeline.errors import PublicKeyWriteForbidden, Unauthorized
from spanlens_pipeline.extensions.keystore import KeyStore, KeystoreExtension
from spanlens_pipeline.model import Batch, RequestContext, Tenant

KEY_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


def key_from_headers(headers: dict[str, str]) -> str | None:
    """The Spanlens key from ``Authorization: Bearer``, ``x-api-key`` or ``x-goog-api-key``."""
    for name in KEY_HEADERS:
        value = headers.get(name, "").strip()
        if not value:
            continue
        if name == "authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                continue
            value = token.strip()
        return value
    return None


def authenticate(store: KeyStore, headers: dict[str, str], write: bool) -> Tenant:
    """The tenant behind the request's key; 401 if none, 403 for a public key on a write path."""
    raw = key_from_headers(headers)
    tenant = store.authenticate(raw) if raw else None
    if tenant is None:
        raise Unauthorized("Missing or invalid API key" if raw is None else "Invalid API key")
    if write and tenant.is_public:
        raise PublicKeyWriteForbidden()
    return tenant


@dataclass
class Config:
    keystore: str = "keystore"  # id of the keystore extension


class AuthProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.store: KeyStore | None = None

    async def start(self, host: Host) -> None:
        ext = host.extension(self.config.keystore)
        if not isinstance(ext, KeystoreExtension) or ext.store is None:
            raise LookupError(f"extension {self.config.keystore!r} is not a started keystore")
        self.store = ext.store

    async def admit(self, ctx: RequestContext) -> None:
        """Authenticate, unless the receiver already did (the proxy must, before anything else)."""
        assert self.store is not None
        if ctx.tenant is None:
            ctx.tenant = authenticate(self.store, ctx.headers, ctx.write)

    async def process(self, batch: Batch, ctx: RequestContext) -> Batch:
        tenant = ctx.tenant
        if tenant is None:  # admit() was not called by the receiver
            await self.admit(ctx)
            tenant = ctx.tenant
        assert tenant is not None
        org, project = tenant.organization_id, tenant.project_id
        for span in batch.spans:
            span.organization_id = org
            span.project_id = project
        for trace in batch.traces:
            trace.organization_id = org
            trace.project_id = project
        for row in batch.requests:
            row["organization_id"] = org
            row["project_id"] = project
            row["api_key_id"] = tenant.api_key_id
        return batch


factory = Factory(type="auth", kind=Kind.PROCESSOR, config=Config, create=AuthProcessor)
