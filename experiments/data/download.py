"""Optional download of the public dataset archives with urllib (clear message when the network fails)."""

from __future__ import annotations

import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

from experiments.data.base import DataFileError, DatasetNotFound

DOWNLOAD_TIMEOUT_S = 60
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def fetch_and_extract(url: str, data_dir: Path, expected: Path, what: str) -> None:
    """Download ``url`` into ``data_dir`` and unpack it; raise DatasetNotFound saying where files go, or
    DataFileError naming an archive that cannot be unpacked."""
    data_dir.mkdir(parents=True, exist_ok=True)
    archive = data_dir / url.rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, archive.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        archive.unlink(missing_ok=True)
        raise DatasetNotFound(
            expected,
            f"could not download {what} from {url} ({err}). Download it elsewhere and place it so that "
            f"{expected} exists (data_dir={data_dir}).",
        ) from None
    unpack(archive, data_dir)
    if not expected.exists():
        raise DatasetNotFound(expected, f"downloaded {archive} but {expected} is still missing")


def unpack(archive: Path, into: Path) -> None:
    """Unpack a .zip or .tar[.gz] archive (tar members outside ``into`` are refused by the "data" filter)."""
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(into)
        elif archive.name.endswith(TAR_SUFFIXES):
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")
        else:
            kinds = ", ".join((".zip", *TAR_SUFFIXES))
            raise DataFileError(archive, f"is not an archive this loader unpacks ({kinds})")
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as err:
        raise DataFileError(
            archive, f"cannot be unpacked ({type(err).__name__}: {err}); delete it and download again"
        ) from None
