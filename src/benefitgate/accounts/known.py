"""Accounts kept in process for ingest, exact as of each lookup's statement.

Ingest names a thousand accounts a batch; reading them afresh each time (rows, their
subscriptions and partners, built into `Account`s) was 11 % of a busy service's CPU
samples and most of Postgres's work besides the write. Every change to an account, its
subscription or the partners managing it writes an outbox event naming the account in
its own transaction (the entitlement snapshots rest on the same rule), and the process's
listener hands each event to `drop`. What the listener has not handed over yet is read
by the lookup itself: its one statement also reads the outbox after the listener's
cursor, and an account it names is read afresh. So a lookup sees every change committed
before its statement, on whichever replica it was made, as a read of the rows would.

Bounded: at most `capacity` accounts, the least recently used dropped first. An account
whose load overlapped a drop naming it is used by that lookup but not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from benefitgate.accounts import repository
from benefitgate.accounts.models import Account

__all__ = ["SCANNED", "KnownAccounts"]

# The listener's cursor: (txid, id) of the last event it handed over (None before it
# started).
CursorOf = Callable[[], tuple[int, int] | None]
# Outbox events a lookup reads at most after the listener's cursor: more (a listener
# long down or held back) and the lookup reads every account afresh instead.
SCANNED = 10_000


class KnownAccounts:
    """The process's accounts by id, by id's text and by external id."""

    def __init__(
        self, capacity: int, cursor: CursorOf, keep: Collection[str], scanned: int = SCANNED
    ) -> None:
        """`keep`: event types that change no account (ingest's own usage.recorded)."""
        self._capacity = capacity
        self._cursor = cursor
        self._keep = sorted(keep)
        self._scanned = scanned
        self._by_id: OrderedDict[UUID, Account] = OrderedDict()
        self._by_text: dict[str, Account] = {}
        self._by_external: dict[str, Account] = {}
        self._drops = 0  # calls of `drop` so far: a logical clock for loads in flight
        self._loading = 0  # loads in flight
        self._dropped_at: dict[UUID, int] = {}  # while loads are in flight: latest drops

    def __len__(self) -> int:
        return len(self._by_id)

    def drop(self, account_ids: Iterable[UUID]) -> None:
        """Forget these accounts, and keep none a load in flight brings back."""
        self._drops += 1
        for account_id in account_ids:
            self._forget(account_id)
            if self._loading:
                self._dropped_at[account_id] = self._drops

    async def get(
        self, conn: asyncpg.Connection, ids: Sequence[UUID | str], external_ids: Sequence[str]
    ) -> dict[UUID, Account]:
        """The accounts with one of `ids` (UUIDs, or their canonical lower-case text) or
        one of `external_ids`, by id, as `accounts.service.accounts_by_ids` would read them
        in one statement: this lookup's."""
        cursor = self._cursor()
        if cursor is None:
            return await repository.accounts_by_ids(conn, ids, external_ids)
        found: dict[UUID, Account] = {}
        missing_ids = self._hits(ids, found)
        missing_external = self._hits(external_ids, found, self._by_external)
        started = self._drops
        self._loading += 1
        try:
            overflow, changed, read = await repository.accounts_unless_known(
                conn, cursor, self._scanned, self._keep, list(found), missing_ids, missing_external
            )
            if overflow:
                read = await repository.accounts_by_ids(conn, ids, external_ids)
        finally:
            self._loading -= 1
        if overflow:
            self._keep_all(read.values(), started)
            return read
        if changed:  # seldom: those are read again, as missing ones (one more round)
            self.drop(changed)
            return await self.get(conn, ids, external_ids)
        self._keep_all(read.values(), started)
        found.update(read)
        return found

    @property
    def id_texts(self) -> Mapping[str, Account]:
        """The accounts kept, by their id's canonical text."""
        return self._by_text

    def _hits(
        self,
        keys: Sequence[Any],
        found: dict[UUID, Account],
        by: Mapping[Any, Account] | None = None,
    ) -> list[Any]:
        """Put the accounts kept under `keys` (ids, their text, or external ids with `by`)
        in `found`, as used last; returns the keys of none. One loop, no call a key: a
        batch names a thousand."""
        by_id, by_text, used = self._by_id, self._by_text, self._by_id.move_to_end
        missing = []
        for key in keys:
            account = (
                (by_text if isinstance(key, str) else by_id).get(key) if by is None else by.get(key)
            )
            if account is None:
                missing.append(key)
            else:
                used(account.id)
                found[account.id] = account
        return missing

    def _keep_all(self, accounts: Iterable[Account], started: int) -> None:
        cleared = self._dropped_at
        for account in accounts:
            if cleared.get(account.id, 0) > started:
                continue  # a change was heard while it loaded: it may predate it
            self._forget(account.id)
            self._by_id[account.id] = account
            self._by_text[str(account.id)] = account
            if account.external_id is not None:
                self._by_external[account.external_id] = account
        if not self._loading:
            cleared.clear()
        while len(self._by_id) > self._capacity:
            self._forget(next(iter(self._by_id)))

    def _forget(self, account_id: UUID) -> None:
        account = self._by_id.pop(account_id, None)
        if account is None:
            return
        del self._by_text[str(account_id)]
        if (
            account.external_id is not None
            and self._by_external.get(account.external_id) is account
        ):
            del self._by_external[account.external_id]
