"""Memory headroom for the few computations that still hold whole-grid arrays: refuse
up front, in one line, when they would not fit, instead of swapping or being killed
hours in."""

from __future__ import annotations

from lsgh_ee.errors import LsghError


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (free RAM plus reclaimable cache:
    Linux's ``MemAvailable``, else psutil's ``available`` when psutil is installed); None
    when the system does not say (the check is then skipped)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file counts kB
    except OSError:
        pass
    try:
        import psutil
    except ImportError:
        return None
    return int(psutil.virtual_memory().available)


def require_memory(nbytes: int, what: str, fix: str) -> None:
    """Raise unless ``nbytes`` fit in :func:`available_memory` (no check where it is
    unknown).

    Args:
        nbytes: the estimated peak of the computation, in bytes.
        what: what holds it, e.g. ``"cv of a 9,000 x 11,000 grid (its whole factor stack
            and fold maps)"``.
        fix: what the user can do instead.

    Raises:
        LsghError: ``"{what} needs about X GB of memory, Y GB are available; {fix}"``.
    """
    free = available_memory()
    if free is not None and nbytes > free:
        raise LsghError(
            f"{what} needs about {nbytes / 2**30:.1f} GB of memory, "
            f"{free / 2**30:.1f} GB are available; {fix}"
        )
