# The remote commands' tests use the client tests' server, proxy and ledger.
from tests.client.fixtures import ledger, proxy, served  # noqa: F401
