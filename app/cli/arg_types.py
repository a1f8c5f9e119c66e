"""Argument types the commands share (`chat`, `bench`): one wording for one mistake."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def temperature_arg(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 5.0:  # also refuses nan
        raise argparse.ArgumentTypeError("must be between 0 (greedy) and 5")
    return value


def probability_arg(text: str) -> float:
    value = float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 1")
    return value


def gpu_layers_arg(text: str) -> int:
    if text == "auto":
        return -1
    try:
        return non_negative_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number or auto") from None


def samples_arg(text: str) -> int:
    """--samples: 1 (one answer) or a group of 2 to 16."""
    from app.inference.protocol import MAX_SAMPLES

    value = int(text)
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_SAMPLES}")
    return value


def workers_arg(text: str) -> list[str]:
    """--workers: host:port[,host:port...] of machines running `ponder worker`."""
    workers = [w.strip() for w in text.split(",") if w.strip()]
    for worker in workers:
        host, sep, port = worker.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise argparse.ArgumentTypeError(f"{worker!r} is not HOST:PORT")
    if not workers:
        raise argparse.ArgumentTypeError("give at least one HOST:PORT")
    return workers
