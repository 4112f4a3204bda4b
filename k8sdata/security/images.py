"""Container image references ("registry/repository:tag@digest"): the one parser the hygiene checks and
the vulnerability scan share, so that both read a reference the way a container runtime does."""

from __future__ import annotations

from dataclasses import dataclass

#: Where an image without a registry comes from, as container runtimes resolve it.
DEFAULT_REGISTRY = "docker.io"
#: Docker Hub's other name; reports made against either name describe the same image.
_DOCKER_HUB_ALIASES = {"index.docker.io": DEFAULT_REGISTRY}


@dataclass(frozen=True)
class ImageReference:
    """A reference split into its parts. `registry` is "" when the reference names none; `tag` is None
    when it has none (an empty tag after ':' stays "")."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """Registry and repository as written: what a tag or digest is attached to."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def is_mutable(self) -> bool:
        """`:latest` or no tag (which means latest), and no digest: what a node runs can change under it."""
        return self.digest is None and self.tag in (None, "latest")

    @property
    def canonical_name(self) -> str:
        """registry/repository with Docker Hub's defaults filled in: "nginx", "docker.io/nginx" and
        "index.docker.io/library/nginx" are all "docker.io/library/nginx"."""
        registry = self.registry or DEFAULT_REGISTRY
        registry = _DOCKER_HUB_ALIASES.get(registry, registry)
        repository = self.repository
        if registry == DEFAULT_REGISTRY and "/" not in repository:
            repository = f"library/{repository}"
        return f"{registry}/{repository}"

    def normalised(self) -> str:
        """canonical_name:tag, `latest` when there is no tag; no digest. Two references that name the same
        image this way are the same image to a vulnerability report."""
        return f"{self.canonical_name}:{'latest' if self.tag is None else self.tag}"


def parse_image(reference: str) -> ImageReference:
    """Split a reference. A ':' before the last '/' is a registry's port, not a tag; the first path
    component is a registry only when it looks like a host (a '.', a port, "localhost", or capitals,
    which a repository may not have), as the distribution reference grammar decides."""
    name, _, digest = reference.partition("@")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1:]
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        return ImageReference(first, rest, tag, digest or None)
    return ImageReference("", name, tag, digest or None)
