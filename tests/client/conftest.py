from tests.client.fixtures import ledger, proxy, served  # noqa: F401
