"""Auth processor: authenticates the request's Spanlens key and stamps its tenant on every record."""
from __future__ import annotations

from spanlens_pipeline.bulksql import SqlStep
from spanlens_pipeline.component import Factory, Host, Kind, Processor, Settings, extension_of
from spanlens_pipeline.extensions.keystore import KeystoreExtension
from spanlens_pipeline.model import Batch, RequestContext

from .config import Config


class AuthProcessor(Processor):
    config: Config

    def __init__(self, settings: Settings, config: Config) -> None:
        super().__init__(settings, config)
        self.keystore: KeystoreExtension | None = None

    async def start(self, host: Host) -> None:
        self.keystore = extension_of(host, self.config.keystore, KeystoreExtension)

    async def admit(self, ctx: RequestContext) -> None:
        """Authenticate, unless the receiver already did (the proxy must, before anything else)."""
        assert self.keystore is not None
        if ctx.tenant is None:
            ctx.tenant = self.keystore.authenticate(ctx.headers, ctx.write)

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
            row.organization_id = org
            row.project_id = project
            row.api_key_id = tenant.api_key_id
        return batch

    def bulk_sql(self) -> SqlStep:
        """Bulk path: every span gets the tenant its entry was logged with (authenticated on receipt)."""
        return SqlStep(({"organization_id": "_org", "project_id": "_project"},))


factory = Factory(type="auth", kind=Kind.PROCESSOR, config=Config, create=AuthProcessor)
