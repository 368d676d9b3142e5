#!/usr/bin/python3
"""Print one JSON line per torrent file describing how libtorrent reads it.

Usage: /usr/bin/python3 lt_info.py TORRENT...
"""
import json
import sys

import libtorrent as lt


def hexdigest(h):
    """Hex string of a sha1_hash/sha256_hash, or "" when it is all zero."""
    if h is None:
        return ""
    try:
        if h.is_all_zeros():
            return ""
    except AttributeError:
        pass
    s = str(h)
    if not s.strip("0"):
        return ""
    return s


def file_entry(fs, i):
    """One file of a file_storage: path, size, offset, pad flag and v2 root."""
    return {
        "path": fs.file_path(i),
        "size": fs.file_size(i),
        "offset": fs.file_offset(i),
        "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
        "root": hexdigest(fs.root(i)) if fs.v2() else "",
    }


def describe(path):
    try:
        ti = lt.torrent_info(path)
    except Exception as e:  # libtorrent raises RuntimeError with its message
        return {"file": path, "ok": False, "error": str(e) or type(e).__name__}
    try:
        hashes = ti.info_hashes()
        v1 = hexdigest(hashes.v1) if hashes.has_v1() else ""
        v2 = hexdigest(hashes.v2) if hashes.has_v2() else ""
        fs = ti.files()
        return {
            "file": path,
            "ok": True,
            "infohash_v1": v1,
            "infohash_v2": v2,
            "name": ti.name(),
            "num_files": fs.num_files(),
            "num_pieces": ti.num_pieces(),
            "piece_length": ti.piece_length(),
            "total_size": ti.total_size(),
            "files": [file_entry(fs, i) for i in range(fs.num_files())],
        }
    except Exception as e:
        return {"file": path, "ok": False, "error": str(e) or type(e).__name__}


def main(argv):
    if not argv:
        sys.stderr.write("usage: lt_info.py TORRENT...\n")
        return 2
    for path in argv:
        sys.stdout.write(json.dumps(describe(path), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
