"""k8sdata.security.images against the distribution reference library's own expectations (the Go module
container runtimes and registries use: github.com/distribution/reference, normalize_test.go's tables of
names, their canonical form, domain and path), plus the parts KAMS reads: tag, digest, mutability."""

from __future__ import annotations

import pytest

from k8sdata.security.images import parse_image

DIGEST = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

#: (reference as written, canonical name): TestParseRepositoryInfo's familiar, full and ambiguous
#: names, and TestNormalizedSplitHostname's inputs with domain + "/" + path.
CANONICAL = [
    ("fooo/bar", "docker.io/fooo/bar"),
    ("docker.io/fooo/bar", "docker.io/fooo/bar"),
    ("index.docker.io/fooo/bar", "docker.io/fooo/bar"),
    ("ubuntu", "docker.io/library/ubuntu"),
    ("library/ubuntu", "docker.io/library/ubuntu"),
    ("docker.io/library/ubuntu", "docker.io/library/ubuntu"),
    ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu"),
    ("other/library", "docker.io/other/library"),
    ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase"),
    ("127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase"),
    ("example.com/private/moonbase", "example.com/private/moonbase"),
    ("example.com:8000/privatebasee", "example.com:8000/privatebasee"),
    ("ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base"),
    ("index.docker.io/library/ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base"),
    ("foo", "docker.io/library/foo"),
    ("docker.io/foo", "docker.io/library/foo"),
    ("library/foo/bar", "docker.io/library/foo/bar"),
    ("store/foo/bar", "docker.io/store/foo/bar"),
    ("Foo/bar", "Foo/bar"),
    ("FOO/bar", "FOO/bar"),
    ("test.com/foo", "test.com/foo"),
    ("test_com/foo", "docker.io/test_com/foo"),
    ("docker/migrator", "docker.io/docker/migrator"),
    ("test.com:8080/foo", "test.com:8080/foo"),
    ("test-com:8080/foo", "test-com:8080/foo"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo"),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000/docker/docker"),
    ("localhost/app", "localhost/app"),
]


@pytest.mark.parametrize(("reference", "canonical"), CANONICAL)
def test_canonical_names_are_the_distribution_library_s(reference: str, canonical: str) -> None:
    parsed = parse_image(reference)
    assert parsed.canonical_name == canonical
    assert parsed.name == reference  # as written, for messages
    assert parsed.tag is None and parsed.digest is None


@pytest.mark.parametrize(("reference", "normalised", "tag", "digest"), [
    ("redis", "docker.io/library/redis:latest", None, None),
    ("redis:latest", "docker.io/library/redis:latest", "latest", None),
    (f"redis@{DIGEST}", "docker.io/library/redis:latest", None, DIGEST),
    (f"busybox:latest@{DIGEST}", "docker.io/library/busybox:latest", "latest", DIGEST),
    ("dmcgowan/myapp:1.2", "docker.io/dmcgowan/myapp:1.2", "1.2", None),
    ("registry.example.com:5000/team/app:v3", "registry.example.com:5000/team/app:v3", "v3", None),
    ("localhost:5000/app", "localhost:5000/app:latest", None, None),  # a port is not a tag
    ("nginx:", "docker.io/library/nginx:", "", None),  # an empty tag stays what it is
])
def test_tags_and_digests(reference: str, normalised: str, tag: str | None, digest: str | None) -> None:
    parsed = parse_image(reference)
    assert (parsed.normalised(), parsed.tag, parsed.digest) == (normalised, tag, digest)


@pytest.mark.parametrize(("reference", "mutable"), [
    ("nginx", True), ("nginx:latest", True), ("localhost:5000/nginx", True),
    ("nginx:1.25", False), (f"nginx@{DIGEST}", False), (f"nginx:latest@{DIGEST}", False),
])
def test_a_reference_is_mutable_without_a_digest_or_a_fixed_tag(reference: str, mutable: bool) -> None:
    assert parse_image(reference).is_mutable is mutable
