"""Small file helpers shared by every package: atomic writes and MIME guessing."""

from __future__ import annotations

import mimetypes
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _writer() -> str:
    """This process and thread, for temporary names no other writer uses."""
    return f"{os.getpid()}-{threading.get_ident()}"


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file through `write(fh)` into a temporary sibling, then rename it over `path`:
    a killed run never leaves half a file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # one temporary name per writer: two processes (or threads) writing the same file never rename each
    # other's temporary away (a fixed `<name>.tmp` made one of them fail with FileNotFoundError)
    tmp = path.with_name(f"{path.name}.{_writer()}.tmp")
    try:
        with tmp.open("wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def replace_folder(folder: Path, write: Callable[[Path], object]) -> None:
    """Write a whole folder through `write(tmp)` into a new sibling, then swap it in for `folder`; a failed
    write leaves `folder` as it was and no sibling, a killed run only a `.tmp-<pid>-<thread>` sibling.

    The swap is two renames: for a moment there is no `folder`, and a reader that opens its files one by one
    can get some from the old folder and some from the new one. Readers check for both (LexicalIndex.load)."""
    folder = Path(folder)
    tmp = folder.with_name(f"{folder.name}.tmp-{_writer()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = folder.with_name(f"{folder.name}.old-{_writer()}")
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


_IMAGE_MIME = {".png": "image/png", ".webp": "image/webp", ".gif": "image/gif", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"}


def image_mime(path: str | Path | None) -> str:
    """The MIME type of an image file from its extension; JPEG when unknown (what cameras write)."""
    if path is None:
        return "image/jpeg"
    ext = Path(path).suffix.lower()
    return _IMAGE_MIME.get(ext) or (mimetypes.guess_type(Path(path).name)[0] or "image/jpeg")
