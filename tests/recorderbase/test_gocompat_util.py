"""client-go's tools/record/util (``_recorderbase.util``) and the Go integer/time helpers
(``_recorderbase.gocompat``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubevents._recorderbase.gocompat import (
    go_hex,
    go_unix_nano,
    saturating_sub,
    unix_nanos,
    wrap_int32,
    wrap_int64,
    wrap_uint64,
)
from kubevents._recorderbase.util import (
    generate_event_name,
    is_key_not_found_error,
    validate_event_type,
)
from kubevents.errors import GoneError, KubeError, StatusError, TransportError
from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING

# client-go util_test.go's timestamp.
TIMESTAMP = 105999103295324396
UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
DNS1123_SUBDOMAIN_RE = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII
)


def is_dns_subdomain(name: str) -> bool:
    return len(name) <= 253 and DNS1123_SUBDOMAIN_RE.fullmatch(name) is not None


class NanoTime(datetime):
    """A datetime with an extra sub-microsecond ``nanosecond`` field, like pandas.Timestamp."""

    nanosecond: int = 0


def nano_time(base: datetime, nanosecond: int) -> NanoTime:
    value = NanoTime(
        base.year,
        base.month,
        base.day,
        base.hour,
        base.minute,
        base.second,
        base.microsecond,
        tzinfo=UTC,
    )
    value.nanosecond = nanosecond
    return value


class TestGenerateEventName:
    def test_valid_name_from_client_go(self) -> None:
        assert generate_event_name("test-pod", TIMESTAMP) == "test-pod.178959f726d80ec"

    @pytest.mark.parametrize(
        "ref_name",
        [
            pytest.param("x" * 300, id="too-long"),
            pytest.param("test.POD", id="upper-case"),
            pytest.param("test.pod/invalid!chars?", id="special-chars"),
            pytest.param("--test.pod/invalid!chars?", id="special-and-leading-dash"),
            pytest.param("", id="empty-ref-name"),
            pytest.param("pod-", id="label-ends-with-dash"),
            pytest.param("pod:1", id="colon"),
            pytest.param("pöd", id="non-ascii"),
            pytest.param("pod\n", id="newline"),
        ],
    )
    def test_invalid_names_fall_back_to_uuid4(self, ref_name: str) -> None:
        name = generate_event_name(ref_name, TIMESTAMP)
        assert UUID4_RE.fullmatch(name), name
        assert is_dns_subdomain(name)

    def test_uuid_fallback_is_random(self) -> None:
        assert generate_event_name("BAD", 1) != generate_event_name("BAD", 1)

    def test_negative_nanos_print_a_sign_and_so_fall_back(self) -> None:
        # Go's %x of a negative int64 is "-" + hex; "test-pod.-5" is not a DNS subdomain.
        assert go_hex(-5) == "-5"
        assert UUID4_RE.fullmatch(generate_event_name("test-pod", -5))

    def test_min_int64(self) -> None:
        assert go_hex(-(2**63)) == "-8000000000000000"

    def test_zero_nanos(self) -> None:
        assert generate_event_name("pod", 0) == "pod.0"

    def test_length_boundary_253(self) -> None:
        hex_part = "178959f726d80ec"
        fits = "x" * (253 - 1 - len(hex_part))
        assert generate_event_name(fits, TIMESTAMP) == f"{fits}.{hex_part}"
        assert len(generate_event_name(fits, TIMESTAMP)) == 253
        too_long = fits + "x"
        assert UUID4_RE.fullmatch(generate_event_name(too_long, TIMESTAMP))

    def test_dns_labels_longer_than_63_are_accepted(self) -> None:
        # IsDNS1123Subdomain checks the total length and the pattern only, not label lengths.
        ref = "a" * 100
        assert generate_event_name(ref, 255) == ref + ".ff"

    @given(st.text(alphabet="abcXYZ.-_09/", max_size=20), st.integers(-(2**63), 2**63 - 1))
    def test_result_is_always_a_valid_name(self, ref_name: str, nanos: int) -> None:
        name = generate_event_name(ref_name, nanos)
        assert is_dns_subdomain(name)
        candidate = f"{ref_name}.{go_hex(nanos)}"
        assert name == candidate if is_dns_subdomain(candidate) else UUID4_RE.fullmatch(name)


class TestValidateEventType:
    @pytest.mark.parametrize("event_type", [EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING])
    def test_allowed(self, event_type: str) -> None:
        assert validate_event_type(event_type)

    @pytest.mark.parametrize("event_type", ["", "normal", "WARNING", "Normal ", "Error", "Info"])
    def test_rejected(self, event_type: str) -> None:
        assert not validate_event_type(event_type)

    def test_constants(self) -> None:
        assert (EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING) == ("Normal", "Warning")


class TestIsKeyNotFoundError:
    def test_status_404(self) -> None:
        assert is_key_not_found_error(StatusError(404, "NotFound", 'events "x" not found'))

    def test_code_decides_not_reason(self) -> None:
        assert is_key_not_found_error(StatusError(404, "SomethingElse"))
        assert not is_key_not_found_error(StatusError(0, "NotFound"))
        assert not is_key_not_found_error(StatusError(500, "NotFound"))

    @pytest.mark.parametrize("code", [0, 400, 403, 409, 410, 422, 500])
    def test_other_codes(self, code: int) -> None:
        assert not is_key_not_found_error(StatusError(code))

    def test_status_error_subclass_is_still_a_status_error(self) -> None:
        assert not is_key_not_found_error(GoneError(410))
        assert is_key_not_found_error(GoneError(404))

    def test_wrapped_status_error_is_not_unwrapped(self) -> None:
        outer = RuntimeError("patch failed")
        outer.__cause__ = StatusError(404, "NotFound")
        assert not is_key_not_found_error(outer)

    def test_non_status_errors(self) -> None:
        assert not is_key_not_found_error(None)
        assert not is_key_not_found_error(TransportError("404"))
        assert not is_key_not_found_error(KubeError())


class TestGoArithmetic:
    def test_wraps(self) -> None:
        assert wrap_int64(2**63) == -(2**63)
        assert wrap_int64(-(2**63) - 1) == 2**63 - 1
        assert wrap_int32(2**31) == -(2**31)
        assert wrap_int32(-1) == -1
        assert wrap_uint64(-1) == 2**64 - 1

    def test_unix_nanos_is_exact(self) -> None:
        when = datetime(2024, 1, 1, 0, 0, 7, 123456, tzinfo=UTC)
        assert unix_nanos(when) == 1_704_067_207_123_456_000
        assert unix_nanos(nano_time(when, 789)) == 1_704_067_207_123_456_789
        assert unix_nanos(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)) == -1_000_000_000

    def test_unix_nanos_converts_other_timezones(self) -> None:
        plus_one = timezone(timedelta(hours=1))
        assert unix_nanos(datetime(1970, 1, 1, 1, tzinfo=plus_one)) == 0

    def test_unix_nanos_rejects_naive(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            unix_nanos(datetime(2024, 1, 1))  # noqa: DTZ001

    def test_go_unix_nano_wraps_outside_int64(self) -> None:
        # Go's UnixNano is only meaningful between 1678 and 2262; beyond that it wraps.
        far = datetime(2300, 1, 1, tzinfo=UTC)
        assert go_unix_nano(far) == wrap_int64(unix_nanos(far))
        assert go_unix_nano(far) < 0

    def test_saturating_sub(self) -> None:
        assert saturating_sub(5, 3) == 2
        assert saturating_sub(2**70, 0) == 2**63 - 1
        assert saturating_sub(0, 2**70) == -(2**63)
