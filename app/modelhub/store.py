"""Ponder's own models folder: where downloads land, imports go, and user folders are listed.

Models other apps downloaded are never copied here (``discovery`` finds them where they
are); importing a single file links it when it can, because a 40 GB copy of a file that
is already on the same disk helps nobody.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from app.core.atomic import write_atomic
from app.core.errors import BadInputError, ModelImportError
from app.core.gguf import check_parts, shard_info
from app.core.paths import AppPaths
from app.core.units import format_bytes
from app.modelhub import provenance

IMPORTED = "imported"
FOLDERS_SCHEMA = 1
# Room left on the disk after a copy, so the system and other apps keep working.
COPY_MARGIN = 1 << 30
_REPO_PART = re.compile(r"^[\w.-]+$")


class ImportMode(StrEnum):
    AUTO = "auto"  # hard link on the same filesystem, else copy
    HARDLINK = "hardlink"
    SYMLINK = "symlink"  # the original must stay where it is
    COPY = "copy"


@dataclass(frozen=True)
class ImportResult:
    files: tuple[Path, ...]  # the imported files in Ponder's folder (shards in order)
    mode: ImportMode  # what was actually done (AUTO resolved)

    @property
    def path(self) -> Path:
        return self.files[0]


class ModelStore:
    """Ponder's models folder plus the list of folders the user added.

    Args:
        models_dir: where downloads and imports live (``AppPaths.models_dir``).
        folders_file: JSON list of user-added folders to scan for models.
    """

    def __init__(self, models_dir: Path, folders_file: Path) -> None:
        self.models_dir = models_dir
        self._folders_file = folders_file

    @classmethod
    def from_paths(cls, paths: AppPaths) -> ModelStore:
        return cls(paths.models_dir, paths.config_dir / "model_folders.json")

    def install_path(self, repo_id: str, filename: str) -> Path:
        """Where a Hub file is installed: ``models/OWNER/REPO/PATH`` (LM Studio's layout)."""
        parts = repo_id.split("/")
        rel = PurePosixPath(filename)
        if (
            len(parts) != 2
            or not all(_REPO_PART.match(p) and p not in {".", ".."} for p in parts)
            or rel.is_absolute()
            or ".." in rel.parts
            or not rel.parts
        ):
            raise BadInputError(
                f"{repo_id}/{filename} is not a valid Hub file.", "Use OWNER/REPO and a file name."
            )
        return self.models_dir.joinpath(*parts, *rel.parts)

    def owns(self, path: Path) -> bool:
        """True for files inside Ponder's models folder (the only ones it may delete)."""
        try:
            Path(os.path.abspath(path)).relative_to(os.path.abspath(self.models_dir))
        except ValueError:
            return False
        return True

    def remove(self, files: tuple[Path, ...] | list[Path]) -> None:
        """Delete a model's files from Ponder's folder; other apps' files are refused."""
        foreign = [f for f in files if not self.owns(f)]
        if foreign:
            raise BadInputError(
                f"{foreign[0]} belongs to another app; Ponder only lists it.",
                "Remove it in the app that downloaded it.",
            )
        for f in files:
            f.unlink(missing_ok=True)
            provenance.forget(f)
            parent = f.parent
            while parent != self.models_dir and self.owns(parent):
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent

    # -- folders the user adds --------------------------------------------------------------

    def folders(self) -> list[Path]:
        try:
            data = json.loads(self._folders_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        items = data.get("folders") if isinstance(data, dict) else None
        return [Path(p) for p in items if isinstance(p, str)] if isinstance(items, list) else []

    def add_folder(self, folder: Path) -> list[Path]:
        folder = Path(os.path.abspath(folder.expanduser()))
        if not folder.is_dir():
            raise BadInputError(
                f"{folder} is not a folder.", "Choose a folder that holds .gguf files."
            )
        current = self.folders()
        if folder not in current:
            current.append(folder)
            self._save_folders(current)
        return current

    def remove_folder(self, folder: Path) -> list[Path]:
        folder = Path(os.path.abspath(folder.expanduser()))
        current = [f for f in self.folders() if f != folder]
        self._save_folders(current)
        return current

    def _save_folders(self, folders: list[Path]) -> None:
        self._folders_file.parent.mkdir(parents=True, exist_ok=True)
        data = {"schema_version": FOLDERS_SCHEMA, "folders": [str(f) for f in folders]}
        write_atomic(self._folders_file, json.dumps(data, indent=2) + "\n")

    # -- single-file import -----------------------------------------------------------------

    def import_file(self, source: Path, mode: ImportMode = ImportMode.AUTO) -> ImportResult:
        """Bring a .gguf (every shard of a split one) into Ponder's folder.

        The header is validated first, so an incomplete or foreign file is refused with
        the reason instead of being imported and failing at load time.
        """
        files = _with_shards(Path(os.path.abspath(source.expanduser())))
        check_parts(files)
        dest_dir = self.models_dir / IMPORTED
        dest_dir.mkdir(parents=True, exist_ok=True)
        auto = mode is ImportMode.AUTO
        if auto:
            same_fs = files[0].stat().st_dev == dest_dir.stat().st_dev
            mode = ImportMode.HARDLINK if same_fs else ImportMode.COPY
        if mode is ImportMode.COPY:
            _check_space(files, dest_dir)
        done: list[Path] = []
        for f in files:
            try:
                done.append(_place(f, dest_dir / f.name, mode))
            except ModelImportError as exc:
                # Auto: a disk that refuses hard links (exFAT, another user's file under
                # Linux's protected_hardlinks) gets the copy the user was promised.
                if not (auto and mode is ImportMode.HARDLINK and _link_refused(exc.__cause__)):
                    raise
                mode = ImportMode.COPY
                _check_space(files[len(done) :], dest_dir)
                done.append(_place(f, dest_dir / f.name, mode))
        return ImportResult(files=tuple(done), mode=mode)


def _with_shards(source: Path) -> list[Path]:
    if not source.is_file():
        raise BadInputError(f"No model file at {source}.", "Check the path.")
    info = shard_info(source.name)
    if info is None:
        return [source]
    stem, _, count = info
    files = [source.parent / f"{stem}-{i:05d}-of-{count:05d}.gguf" for i in range(1, count + 1)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise BadInputError(
            f"{source.name} is one part of a split model and {missing[0]} is not beside it.",
            "Put all the parts in one folder, then import the first.",
        )
    return files


def _check_space(files: list[Path], dest_dir: Path) -> None:
    need = sum(f.stat().st_size for f in files)
    free = shutil.disk_usage(dest_dir).free
    if need + COPY_MARGIN > free:
        raise ModelImportError(
            f"Copying needs {format_bytes(need)} but only {format_bytes(free)} is free in "
            f"{dest_dir}.",
            "Free some space, or import as a link instead of a copy.",
        )


_NO_LINK = {errno.EPERM, errno.EACCES, errno.EMLINK, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP}


def _link_refused(cause: BaseException | None) -> bool:
    return isinstance(cause, OSError) and cause.errno in _NO_LINK


def _place(src: Path, dest: Path, mode: ImportMode) -> Path:
    if dest.exists() or dest.is_symlink():
        if dest.exists() and os.path.samefile(src, dest):
            return dest  # imported before
        raise ModelImportError(
            f"Ponder already has a different model called {dest.name}.",
            "Rename the file, or remove the existing one first.",
        )
    try:
        if mode is ImportMode.HARDLINK:
            os.link(src, dest)
        elif mode is ImportMode.SYMLINK:
            dest.symlink_to(src.resolve())
        else:
            tmp = dest.with_name(dest.name + ".importing")
            try:
                shutil.copyfile(src, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
    except OSError as exc:
        hint = "Import as a copy instead." if exc.errno == errno.EXDEV else "Check the folder."
        if exc.errno == errno.EXDEV:
            reason = "the file is on another disk, and hard links cannot cross disks"
        else:
            reason = exc.strerror or type(exc).__name__
        raise ModelImportError(f"Could not import {src.name}: {reason}.", hint) from exc
    return dest
