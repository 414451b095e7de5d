"""A local wheel cache made from this environment's installed packages, so that a test can install a project
into a brand-new virtual environment with pip, offline (`pip install --no-index --find-links WHEELS ...`),
without inheriting any site-packages.

Each wheel holds what the package's RECORD lists inside site-packages (and its data files, e.g. Jupyter's
share/ folder), with a new RECORD; console scripts are left out, since pip writes them anew from
entry_points.txt. The wheels carry the tags the packages were installed with, so they suit this machine only."""
import base64
import hashlib
import importlib.metadata as metadata
import sys
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

SKIPPED_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def project_requirements(pyproject: Path) -> list[str]:
    return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]


def installed_closure(requirements: list[str]) -> list[metadata.Distribution]:
    """The installed distributions that `requirements` need, transitively (markers evaluated here)."""
    found, todo = {}, [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise LookupError(f"{requirement} is needed but not installed in {sys.prefix}") from None
        extras = {"", *requirement.extras}
        if (name, frozenset(extras)) in found:
            continue
        found[name, frozenset(extras)] = distribution
        todo += [(Requirement(r), e) for r in distribution.requires or [] for e in extras]
    unique = {canonicalize_name(d.metadata["Name"]): d for d in found.values()}
    return sorted(unique.values(), key=lambda d: d.metadata["Name"].lower())


def build_wheel(distribution: metadata.Distribution, dest: Path) -> Path:
    files = [f for f in distribution.files or [] if "__pycache__" not in f.parts and f.suffix != ".pyc"]
    dist_info = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    data = dist_info.removesuffix(".dist-info") + ".data"
    wheel = dest / f"{dist_info.removesuffix('.dist-info')}-{_tag(distribution)}.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            if file.parts[0] == dist_info and file.name in SKIPPED_METADATA:
                continue
            if file.parts[0] == "..":  # outside site-packages: data files under the prefix, or scripts
                under_prefix = Path(*[p for p in file.parts if p != ".."])
                if under_prefix.parts[0] in ("bin", "Scripts"):
                    continue
                arcname = f"{data}/data/{under_prefix.as_posix()}"
            else:
                arcname = file.as_posix()
            path = Path(distribution.locate_file(file))
            if not path.is_file():
                continue
            content = path.read_bytes()
            archive.writestr(arcname, content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
            records.append(f"{arcname},sha256={digest},{len(content)}")
        records.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return wheel


def _tag(distribution: metadata.Distribution) -> str:
    """The first of the package's wheel tags that this interpreter accepts."""
    text = distribution.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
    supported = {str(tag) for tag in sys_tags()}
    return next((tag for tag in tags if tag in supported), "py3-none-any")


def build_wheelhouse(requirements: list[str], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for distribution in installed_closure(requirements):
        build_wheel(distribution, dest)
    return dest
