"""Evidence ledger figures: appends per second, proof generation time, pack verification rate.

    .venv/bin/python benchmarks/evidence_bench.py [--quick] [--postgres URL]

Appends run through EvidenceService (sign, lock the tenant head, store nodes, sign a checkpoint),
one transaction each, on SQLite and on PostgreSQL. Proof times are the mean over random leaves:
from the database at 10^3 and 10^5 entries, and from the in-memory node store at 10^3, 10^5 and
10^6 (loading 10^6 signed entries into a database would dominate the run; the node layout and the
proof code are the same, only the node fetch differs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from midcore import migrations
from midcore.db import Database
from midcore.evidence import merkle, statements
from midcore.evidence.keys import KeyStore
from midcore.evidence.ledger import MemoryLedger
from midcore.evidence.repository import EvidenceRepository
from midcore.evidence.service import EvidenceService, NewEntry
from midcore.evidence.verify import verify_pack
from midcore.tenants.service import create_tenant

SUBJECT = statements.subject("workspace", git_commit="a" * 40, sha256="b" * 64)


def statement(number: int) -> dict[str, object]:
    predicate = statements.test_result_predicate(
        "PASSED", passed_tests=[f"tests/test_{number}.py::test_ok"]
    )
    return statements.statement([SUBJECT], statements.TEST_RESULT_PREDICATE, predicate)


async def timed(action: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await action()
    return time.perf_counter() - started


class Target:
    """A migrated database with one tenant, removed afterwards."""

    def __init__(self, name: str, url: str, admin_url: str | None = None) -> None:
        self.name, self.url, self.admin_url = name, url, admin_url
        self.database: Database | None = None
        self.tenant_id = ""

    @property
    def _name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    async def __aenter__(self) -> Target:
        if self.admin_url:
            await self._admin(f'CREATE DATABASE "{self._name}"')
        self.database = Database(self.url)
        await migrations.upgrade(self.database.engine)
        async with self.database.session() as session:
            self.tenant_id = (await create_tenant(session, "bench")).id
        return self

    async def new_tenant(self, slug: str) -> str:
        assert self.database is not None
        async with self.database.session() as session:
            return (await create_tenant(session, slug)).id

    async def __aexit__(self, *_: object) -> None:
        assert self.database is not None
        await self.database.dispose()
        if self.admin_url:
            await self._admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')

    async def _admin(self, statement_text: str) -> None:
        assert self.admin_url is not None
        admin = Database(self.admin_url)
        try:
            async with admin.engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(statement_text))
        finally:
            await admin.dispose()


async def appends_per_second(target: Target, service: EvidenceService, count: int) -> float:
    assert target.database is not None
    database = target.database

    async def run() -> None:
        for number in range(count):
            async with database.session() as session:
                await service.append(session, target.tenant_id, statement(number))

    return count / await timed(run)


async def concurrent_appends_per_second(
    target: Target, service: EvidenceService, workers: int, each: int
) -> float:
    assert target.database is not None
    database = target.database

    async def worker(offset: int) -> None:
        for number in range(each):
            async with database.session() as session:
                await service.append(session, target.tenant_id, statement(offset + number))

    async def run() -> None:
        await asyncio.gather(*(worker(n * each) for n in range(workers)))

    return workers * each / await timed(run)


async def fill(
    target: Target, service: EvidenceService, tenant_id: str, size: int, batch: int = 2000
) -> int:
    """Append batches until the tenant's log has `size` entries; returns how many were added."""
    assert target.database is not None
    async with target.database.session() as session:
        start = current = (await service.latest_checkpoint(session, tenant_id)).size
    while current < size:
        step = min(batch, size - current)
        async with target.database.session() as session:
            await service.append_many(
                session, tenant_id, [NewEntry(statement(current + n)) for n in range(step)]
            )
        current += step
    return current - start


async def db_proof_ms(
    target: Target, tenant_id: str, size: int, samples: int
) -> tuple[float, float]:
    """Mean milliseconds for an inclusion and for a consistency proof read from the database."""
    assert target.database is not None
    rng = random.Random(size)
    inclusion, consistency = [], []
    async with target.database.session() as session:
        repository = EvidenceRepository(session)
        for _ in range(samples):
            index = rng.randrange(size)
            started = time.perf_counter()
            ranges = merkle.inclusion_ranges(index, size)
            nodes = await repository.get_nodes(tenant_id, merkle.nodes_for(ranges))
            merkle.assemble(ranges, nodes)
            inclusion.append(time.perf_counter() - started)
            old = rng.randrange(1, size)
            started = time.perf_counter()
            ranges = merkle.consistency_ranges(old, size)
            nodes = await repository.get_nodes(tenant_id, merkle.nodes_for(ranges))
            merkle.assemble(ranges, nodes)
            consistency.append(time.perf_counter() - started)
    return statistics.mean(inclusion) * 1000, statistics.mean(consistency) * 1000


def memory_proof_ms(size: int, samples: int) -> tuple[float, float, float]:
    """Build seconds, then mean ms per inclusion and per consistency proof, in memory."""
    log = merkle.MerkleLog()
    started = time.perf_counter()
    chunk = 100_000
    for start in range(0, size, chunk):
        log.append_hashes(
            [merkle.leaf_hash(b"%d" % n) for n in range(start, min(size, start + chunk))]
        )
    build = time.perf_counter() - started
    rng = random.Random(size)
    started = time.perf_counter()
    for _ in range(samples):
        log.inclusion_proof(rng.randrange(size))
    inclusion = (time.perf_counter() - started) / samples * 1000
    started = time.perf_counter()
    for _ in range(samples):
        log.consistency_proof(rng.randrange(1, size))
    consistency = (time.perf_counter() - started) / samples * 1000
    return build, inclusion, consistency


def pack_verification_rate(size: int, directory: Path) -> tuple[float, int]:
    ledger = MemoryLedger("bench", KeyStore(directory / "keys"))
    for number in range(size):
        ledger.append(statement(number))
    pack = ledger.export_pack()
    started = time.perf_counter()
    result = verify_pack(pack)
    elapsed = time.perf_counter() - started
    if not result.is_valid:
        raise SystemExit(f"pack did not verify: {result.failure}")
    return size / elapsed, len(pack)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "MIDCORE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
        ),
        help="admin URL of a PostgreSQL server (a throwaway database is created); '' to skip",
    )
    args = parser.parse_args()
    appends = 200 if args.quick else 1000
    db_sizes = [1_000, 10_000] if args.quick else [1_000, 100_000]
    memory_sizes = [1_000, 100_000] if args.quick else [1_000, 100_000, 1_000_000]
    pack_size = 2_000 if args.quick else 10_000
    samples = 200

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        service = EvidenceService(KeyStore(directory / "keys"))
        targets = [Target("SQLite", f"sqlite+aiosqlite:///{directory / 'bench.db'}")]
        if args.postgres:
            name = f"midcore_bench_{secrets.token_hex(4)}"
            base = args.postgres.rsplit("/", 1)[0]
            targets.append(Target("PostgreSQL", f"{base}/{name}", admin_url=args.postgres))

        print("\n== appends (one signed entry, one transaction, checkpoint signed each time)")
        for target in targets:
            async with target:
                rate = await appends_per_second(target, service, appends)
                print(f"{target.name:<11} sequential        {rate:9.0f} appends/s ({appends})")
                workers, each = 8, appends // 8
                rate = await concurrent_appends_per_second(target, service, workers, each)
                print(f"{target.name:<11} {workers} concurrent      {rate:9.0f} appends/s")
                started = time.perf_counter()
                added = await fill(target, service, target.tenant_id, 10 * appends)
                rate = added / (time.perf_counter() - started)
                print(f"{target.name:<11} batched (2000/tx) {rate:9.0f} appends/s ({added})")
                print(f"\n== proofs from {target.name} (mean of {samples})")
                proofs_tenant = await target.new_tenant("proofs")
                for size in db_sizes:
                    await fill(target, service, proofs_tenant, size)
                    inclusion, consistency = await db_proof_ms(target, proofs_tenant, size, samples)
                    print(
                        f"{target.name:<11} n={size:>9,}  inclusion {inclusion:7.3f} ms"
                        f"  consistency {consistency:7.3f} ms"
                    )
                print()

        print(f"== proofs from the in-memory node store (mean of {samples})")
        for size in memory_sizes:
            build, inclusion, consistency = memory_proof_ms(size, samples)
            print(
                f"memory      n={size:>9,}  inclusion {inclusion:7.3f} ms"
                f"  consistency {consistency:7.3f} ms  (tree built in {build:.1f} s)"
            )

        rate, pack_bytes = pack_verification_rate(pack_size, directory)
        print(f"\n== pack verification ({pack_size:,} entries, {pack_bytes / 1e6:.1f} MB zip)")
        print(f"verify_pack {rate:9.0f} entries/s")


if __name__ == "__main__":
    asyncio.run(main())
