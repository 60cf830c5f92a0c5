"""The secrets scanner: finds committed credentials and never repeats them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midcore.gates.models import GateSetResult, Verdict
from midcore.gates.reports import to_junit_xml, to_sarif_json
from midcore.gates.secrets import scan_text, shannon_entropy
from tests.gates.conftest import Repo, gate

# Built from parts so this file does not itself look like it holds credentials.
AWS_ID = "AKIA" + "Q3EGRT7LMNPX2Z4B"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "Zq8m3Tn0Lp"  # midcore: allow-secret
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
SLACK = "xoxb-" + "1234567890-abcdefghijKLMN"
GOOGLE = "AIza" + "SyD3x8Qm0Zk4Vb7Nw2Lr5Tp9Hc1Jf6Ua8Ye"
STRIPE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----"
TOKEN = "Zx9Qp2Lm7Rt4Vb8Nk3Hs6Jd1Fg5Wc0Ye"  # midcore: allow-secret


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        (f'key_id = "{AWS_ID}"', "aws-access-key-id"),
        (f"aws_secret_access_key = {AWS_SECRET}", "aws-secret-access-key"),
        (f"token: {GITHUB}", "github-token"),
        (f"SLACK = '{SLACK}'", "slack-token"),
        (f'maps_key = "{GOOGLE}"', "google-api-key"),
        (f'stripe.api_key = "{STRIPE}"', "stripe-secret-key"),
        (PRIVATE_KEY, "private-key"),
        (f'API_TOKEN = "{TOKEN}"', "high-entropy-assignment"),
        (f'"password": "{TOKEN}",', "high-entropy-assignment"),
    ],
)
def test_finds_each_kind(line: str, rule: str) -> None:
    [finding] = scan_text(f"x = 1\n{line}\n", "conf.py")
    assert (finding.path, finding.line, finding.rule_name) == ("conf.py", 2, rule)
    assert finding.fingerprint


@pytest.mark.parametrize(
    "line",
    [
        'password = "changeme-changeme"',
        'API_TOKEN = "${API_TOKEN_FROM_ENV_VAR}"',
        'secret_key = "aaaaaaaaaaaaaaaaaaaaaaaa"',
        'token = "your-token-goes-here-please"',  # low entropy words
        'aws_key = "AKIAIOSFODNN7EXAMPLE"',
        f'API_TOKEN = "{TOKEN}"  # midcore: allow-secret',
        'digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
        # toolz's setup.py: an author is not auth, and an address is not a secret
        "      author='https://raw.github.com/pytoolz/toolz/master/AUTHORS.md',",
        'auth_url = "https://login.example.org/oauth2/v2.0/authorize?tenant=9fK2x"',
    ],
)
def test_ignores_placeholders_and_plain_values(line: str) -> None:
    assert scan_text(line + "\n", "conf.py") == []


def test_credentials_inside_a_url_are_found() -> None:
    line = 'auth_url = "https://deploy:Zq8vN2xL5pR7tK9w@git.internal/repo.git"'
    assert [f.rule_name for f in scan_text(line + "\n", "conf.py")] == ["high-entropy-assignment"]


def test_entropy() -> None:
    assert shannon_entropy("aaaa") == 0
    assert shannon_entropy(TOKEN) > 4.5


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"), max_codepoint=127),
        min_size=20,
        max_size=60,
    )
)
def test_messages_never_contain_the_value(value: str) -> None:
    for line in (f'api_token = "{value}"', f"AKIA{value[:16].upper()}", f"ghp_{value}{value}"):
        for finding in scan_text(line, "x.py", min_entropy=0.1):
            assert value not in finding.message
            assert value not in (finding.fingerprint or "")


def test_gate_reports_carry_no_secret(
    make_repo: Callable[..., Repo], run: Callable[..., GateSetResult]
) -> None:
    repo = make_repo(
        {
            "midcore.toml": '[gates.secrets]\nkind = "secrets"\nexclude = ["fixtures/**"]\n',
            "app/settings.py": f'DEBUG = False\nGITHUB_TOKEN = "{GITHUB}"\n',
            "deploy/id_rsa": f"{PRIVATE_KEY}\nMIIEowIBAAKCAQEA\n",
            "fixtures/fake.py": f'AWS = "{AWS_ID}"\n',
            "image.bin": "\0\1\2" + AWS_ID,
        }
    )
    result = run(repo)
    secrets = gate(result, "secrets")
    assert secrets.verdict is Verdict.failed
    assert {(f.path, f.rule_name) for f in secrets.findings} == {
        ("app/settings.py", "github-token"),
        ("deploy/id_rsa", "private-key"),
    }
    everything = json.dumps(result.to_json_dict()) + to_junit_xml(result) + to_sarif_json(result)
    for value in (GITHUB, AWS_ID, "MIIEowIBAAKCAQEA"):
        assert value not in everything
