"""Fixtures of the adapter's tests: throwaway TLS material (a CA, server and client certs)."""

from __future__ import annotations

import pytest

from kubevents_testenv import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("kube-pki"))
