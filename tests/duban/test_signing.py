from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from duban.signing import SECRET_PREFIX, new_secret, sign


def test_signature_matches_the_standard_webhooks_reference_vector() -> None:
    # The example from the Standard Webhooks specification's reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_receiver_verifies_our_signature_and_rejects_a_changed_body() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    body = '{"type":"report.submitted","data":{"名称":"涟水"}}'.encode()
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secret, "msg_1", int(now.timestamp()), body),
    }
    assert Webhook(secret).verify(body, headers)["data"] == {"名称": "涟水"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("涟水".encode(), "淮安".encode()), headers)


def test_new_secrets_are_distinct_24_byte_keys() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith(SECRET_PREFIX)
    assert len(base64.b64decode(a.removeprefix(SECRET_PREFIX))) == 24
