"""The sentences of k8sdata.errors, as people read them: every SourceError subclass, with details as
servers write them (ending in '.', ')', '?', '...', empty, on several lines) and hints present or absent,
starts with a capital and ends with exactly one terminal mark, with no doubled punctuation; and KAMS's
own refusal to read Secrets says it is by design instead of advising to grant access."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sdata.config import Settings
from k8sdata.errors import Forbidden, NeverReadsSecrets, RateLimited, Source, SourceError
from k8sdata.sources.kube import KubeClient

#: Every module that defines a SourceError subclass (imported so that __subclasses__ finds them all).
MODULES = ("k8sdata.errors", "k8sdata.sources.kube", "k8sdata.pods.resources", "k8sdata.archive.store",
"k8sdata.archive.trends",
           "k8sdata.archive.spool", "k8sdata.cli.snapshot", "k8sdata.security.clair_auth")
SOURCES: tuple[Source, ...] = get_args(Source)
#: Details as servers and our own code write them.
DETAILS = (
    "",
    "Too many requests, please try again later.",  # the stand-in's 429, as kube-apiserver's
    'pods is forbidden: User "system:serviceaccount:kams:kams" cannot list resource "pods"',
    "etcdserver: request timed out (code 504)",
    "is the server down?",
    "wait...",
    "  a message\non two lines.  ",
    "HTTP 500",
    "Boom!",
)
HINTS = ("", "Use seconds or milliseconds.", "check the ClusterRole in deploy/k8s/", "Try again later..")
TERMINAL = ".!?"


def _all_subclasses(cls: type[SourceError]) -> Iterator[type[SourceError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def error_classes() -> list[type[SourceError]]:
    for module in MODULES:
        importlib.import_module(module)
    return sorted({SourceError, *_all_subclasses(SourceError)}, key=lambda cls: cls.__qualname__)


def _build(cls: type[SourceError], source: Source, detail: str, hint: str) -> SourceError:
    """An instance of `cls` the way its raisers build it (a few take other arguments)."""
    name = cls.__name__
    if name == "UsageUnavailable":
        return cls([SourceError(source, detail), Forbidden("kubernetes", detail)])  # type: ignore[call-arg,arg-type]
    if name == "Spooled":
        return cls(SourceError(source, detail, hint=hint), Path("/spool/2024-01-01T00-00-00Z"))  # type: ignore[arg-type]
    if cls is RateLimited:
        return RateLimited(source, detail, retry_after=7, hint=hint)
    if name == "PodGone" and detail:  # its detail is the pod, never a message
        return cls(source, "shop/web-1", hint=hint)
    return cls(source, detail, hint=hint)


def assert_reads_well(sentence: str) -> None:
    assert sentence, "empty sentence"
    assert not sentence[0].islower(), sentence
    assert sentence == sentence.strip() and "\n" not in sentence and "  " not in sentence, repr(sentence)
    for wrong in ("..", ".).", " .", " ,", ".,", ",."):
        assert wrong not in sentence, (wrong, sentence)
    assert sentence[-1] in TERMINAL, sentence
    assert sentence[-2] not in TERMINAL, sentence
    # Every sentence inside starts with a capital too ("pods: The ..." is not a sentence start).
    for start in re.finditer(r"[.!?] (\S)", sentence):
        assert not start.group(1).islower(), (start.group(0), sentence)


CLASSES = error_classes()


def test_every_subclass_is_found() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {"Forbidden", "RateLimited", "OutOfScope", "LogNotAvailable", "UsageUnavailable", "Spooled",
            "NeverReadsSecrets", "ClairKeyError"} <= names, names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("hint", HINTS)
def test_every_sentence_reads_well(cls: type[SourceError], hint: str) -> None:
    for source in SOURCES:
        for detail in DETAILS:
            assert_reads_well(_build(cls, source, detail, hint).sentence)


# Details made of words, with whatever ending a server gives them.
WORDS = st.lists(st.text("abcdefghijklmnopqrstuvwxyzABCDEF0123456789:/\"'", min_size=1, max_size=8),
                 max_size=6).map(" ".join)
ENDINGS = st.sampled_from(["", ".", "..", "...", "?", "!", ")", ".)", " (code 429).", "\n", " .", ". "])


@settings(max_examples=300, deadline=None)
@given(cls=st.sampled_from(CLASSES), source=st.sampled_from(SOURCES), words=WORDS, ending=ENDINGS,
       hint=st.sampled_from(HINTS))
def test_any_detail_keeps_the_sentence_whole(cls: type[SourceError], source: Source, words: str,
                                             ending: str, hint: str) -> None:
    detail = words + ending if words else ""  # an ending alone (".)") is no server's message
    sentence = _build(cls, source, detail, hint).sentence
    # Only our own punctuation is judged: a detail may hold '..' or ' .' in its middle ("a .. b").
    if ".." in words or " ." in words:
        return
    assert_reads_well(sentence)


def test_the_429_sentence_is_punctuated_once() -> None:
    sentence = RateLimited("kubernetes", "Too many requests, please try again later.", retry_after=7).sentence
    assert sentence == ("The Kubernetes API asked KAMS to slow down (Too many requests, please try again "
                        "later). KAMS will try again in 7 seconds.")
    assert RateLimited("kubernetes", retry_after=1).sentence.endswith("in 1 second.")


def test_the_secrets_refusal_says_it_is_by_design() -> None:
    for error in (NeverReadsSecrets(),):
        assert isinstance(error, Forbidden) and error.kind == "forbidden" and error.by_design
        assert "never reads Secrets" in error.sentence and "by design" in error.sentence, error.sentence
        assert "Grant" not in error.sentence and "ServiceAccount" not in error.sentence, error.sentence
        assert_reads_well(error.sentence)
    # A real 403 still says what to grant.
    refused = Forbidden("kubernetes", 'secrets is forbidden: User "x" cannot list resource "secrets"')
    assert not refused.by_design and "Grant the KAMS ServiceAccount" in refused.sentence


@pytest.fixture
def reader(kube_api: Any) -> Iterator[KubeClient]:
    client = KubeClient(Settings.from_env({"KUBECONFIG": str(kube_api.reader_kubeconfig),
                                           "KAMS_REQUEST_TIMEOUT": "5"}))
    yield client
    client.close()


@pytest.mark.parametrize("ask", [
    lambda kube: kube.list_resource("v1", "secrets", namespace="kams"),
    lambda kube: kube.get_json("/api/v1/namespaces/kams/secrets"),
], ids=["list_resource", "get_json"])
def test_the_client_refuses_secrets_with_the_by_design_sentence(kube_api: Any, reader: KubeClient,
                                                                ask: Callable[[KubeClient], Any]) -> None:
    kube_api.server.clear_request_log()
    with pytest.raises(Forbidden) as caught:
        ask(reader)
    assert caught.value.sentence == NeverReadsSecrets.SENTENCE
    assert kube_api.server.requests_to("secrets") == []


def test_a_throttled_list_says_so_once(kube_faults: Any, kube_api: Any, reader: KubeClient) -> None:
    """The stand-in answers 429 as kube-apiserver does (its message ends with a full stop)."""
    kube_faults.set_fault(r"^/api/v1/pods$", "throttle", retry_after=7)
    with pytest.raises(RateLimited) as caught:
        reader.list_pods()
    assert_reads_well(caught.value.sentence)
    assert ".)." not in caught.value.sentence and "7 seconds." in caught.value.sentence
