#!/usr/bin/python3
"""Create a .torrent with libtorrent and print its info-hash.

Usage: /usr/bin/python3 lt_create.py --piece-length N [--private]
           [--version v1|v2|hybrid] [--tracker URL]... OUT PATH

A v1 torrent (the default) prints its v1 info-hash; a v2 or hybrid one
prints the v1 info-hash (or "-" for v2) and the v2 info-hash on one line.
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
    p.add_argument("--version", choices=("v1", "v2", "hybrid"), default="v1",
                   help="BitTorrent version of the torrent (default v1)")
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

    flags = {"v1": lt.create_torrent.v1_only, "v2": lt.create_torrent.v2_only,
             "hybrid": 0}[args.version]
    ct = lt.create_torrent(fs, args.piece_length, flags)
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
    hashes = ti.info_hashes()
    if args.version == "v1":
        print(str(hashes.v1))
    else:
        print(str(hashes.v1) if hashes.has_v1() else "-", str(hashes.v2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as e:
        sys.stderr.write("lt_create.py: %s\n" % e)
        sys.exit(1)
