"""Optional download of the public dataset archives with urllib (clear message when the network fails)."""

from __future__ import annotations

import tarfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from experiments.data.base import DatasetNotFound

DOWNLOAD_TIMEOUT_S = 60


def fetch_and_extract(url: str, data_dir: Path, expected: Path, what: str) -> None:
    """Download ``url`` into ``data_dir`` and unpack it; raise DatasetNotFound saying where files go."""
    data_dir.mkdir(parents=True, exist_ok=True)
    archive = data_dir / url.rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, archive.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        archive.unlink(missing_ok=True)
        raise DatasetNotFound(
            f"could not download {what} from {url} ({err}). Download it elsewhere and place it so that "
            f"{expected} exists (data_dir={data_dir})."
        ) from None
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(data_dir)
    elif archive.name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(archive) as tf:
            tf.extractall(data_dir, filter="data")
    if not expected.exists():
        raise DatasetNotFound(f"downloaded {archive} but {expected} is still missing")
