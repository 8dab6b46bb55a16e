"""Kubernetes' naming rules, checked here so a bad name is a 422 naming the field, not an apiserver error.

Each ``*_problem`` function returns why a name breaks the rule, or None when it is fine; the rules
are those of the apiserver's validation (``k8s.io/apimachinery/pkg/util/validation``).
"""

from __future__ import annotations

import hashlib
import json
import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NOT_IN_LABEL_VALUE = re.compile(r"[^-A-Za-z0-9_.]+")

#: Longest name of a label, a Service, a container, a port (a DNS label; IANA names are shorter).
MAX_LABEL = 63


def dns_label_problem(name: str) -> str | None:
    if len(name) > MAX_LABEL:
        return f"{name!r} is longer than {MAX_LABEL} characters"
    if not _DNS_LABEL.match(name):
        return f"{name!r} must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns_1035_label_problem(name: str) -> str | None:
    """Service names: a DNS label that also starts with a letter."""
    if len(name) > MAX_LABEL or not _DNS_1035_LABEL.match(name):
        return f"{name!r} must be at most {MAX_LABEL} lower-case letters, digits and '-', starting with a letter"
    return None


def subdomain_problem(name: str) -> str | None:
    """Names of most objects (claims, secrets, priority classes): a DNS subdomain."""
    if len(name) > 253:
        return f"{name!r} is longer than 253 characters"
    if not _DNS_SUBDOMAIN.match(name):
        return f"{name!r} must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
    return None


def qualified_name_problem(key: str) -> str | None:
    """Keys of labels, annotations and node selectors, and extended resource names: ``[prefix/]name``."""
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        return f"{key!r} has an empty prefix before '/'"
    if prefix and (problem := subdomain_problem(prefix)):
        return f"prefix of {key!r}: {problem}"
    if len(name) > MAX_LABEL:
        return f"{key!r}: the part after any '/' is longer than {MAX_LABEL} characters"
    if not _QUALIFIED_NAME.match(name):
        return f"{key!r} must be letters, digits, '-', '_' and '.' (after an optional 'prefix/'), " \
               "starting and ending with a letter or digit"
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > MAX_LABEL:
        return f"{value!r} is longer than {MAX_LABEL} characters"
    if not _LABEL_VALUE.match(value):
        return (f"{value!r} must be empty or letters, digits, '-', '_' and '.', "
                "starting and ending with a letter or digit")
    return None


def port_name_problem(name: str) -> str | None:
    """Port names are IANA service names: at most 15 characters, a letter among them, no '--'."""
    if len(name) > 15 or not _PORT_NAME.match(name) or "--" in name or not re.search("[a-z]", name):
        return f"{name!r} must be at most 15 lower-case letters, digits and single '-', with at least one letter"
    return None


def digest(*parts: str) -> str:
    """Eight hex digits that tell apart names a rule had to shorten or change."""
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:8]


def as_label_value(text: str) -> str:
    """``text`` as a label value: unchanged when valid, else its allowed characters plus a digest,
    so two different texts never share a value (user names may hold '@' or be long)."""
    if label_value_problem(text) is None:
        return text
    kept = _NOT_IN_LABEL_VALUE.sub("-", text).strip("-_.")[: MAX_LABEL - 9].strip("-_.")
    return f"{kept}-{digest(text)}" if kept else digest(text)
