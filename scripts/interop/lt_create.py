#!/usr/bin/python3
"""Create a v1-only .torrent with libtorrent and print its v1 info-hash.

Usage: /usr/bin/python3 lt_create.py --piece-length N [--private]
           [--tracker URL]... OUT PATH
"""
import argparse
import os
import sys

import libtorrent as lt


def parse_args(argv):
    p = argparse.ArgumentParser(prog="lt_create.py")
    p.add_argument("--piece-length", type=int, required=True,
                   help="piece length in bytes (power of two, >= 16384)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--tracker", action="append", default=[],
                   help="announce URL (repeatable, one tier each)")
    p.add_argument("out")
    p.add_argument("path")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    path = os.path.abspath(args.path)
    if not os.path.exists(path):
        sys.stderr.write("lt_create.py: %s: no such file or directory\n" % args.path)
        return 1

    fs = lt.file_storage()
    lt.add_files(fs, path)
    if fs.num_files() == 0:
        sys.stderr.write("lt_create.py: %s: no files\n" % args.path)
        return 1

    ct = lt.create_torrent(fs, args.piece_length, lt.create_torrent.v1_only)
    for tier, url in enumerate(args.tracker):
        ct.add_tracker(url, tier)
    if args.private:
        ct.set_priv(True)
    ct.set_creator("libtorrent %s" % lt.__version__)

    lt.set_piece_hashes(ct, os.path.dirname(path))

    data = lt.bencode(ct.generate())
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)

    ti = lt.torrent_info(lt.bdecode(data))
    print(str(ti.info_hashes().v1))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as e:
        sys.stderr.write("lt_create.py: %s\n" % e)
        sys.exit(1)
