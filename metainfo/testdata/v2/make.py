#!/usr/bin/python3
"""Write the content described in content.json and make its torrents with
libtorrent (through scripts/interop/lt_create.py) into this folder.

Usage: /usr/bin/python3 make.py WORKDIR

Byte i of a file with seed s is (i*7 ^ (i>>14)*13 ^ s) & 0xff, so that no
two 16 KiB blocks are alike; the tests rebuild the data the same way.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LT_CREATE = os.path.join(HERE, "..", "..", "..", "scripts", "interop", "lt_create.py")


def data(length, seed):
    return bytes(((i * 7) ^ ((i >> 14) * 13) ^ seed) & 0xFF for i in range(length))


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: make.py WORKDIR\n")
        return 2
    work = os.path.abspath(argv[0])
    with open(os.path.join(HERE, "content.json")) as f:
        specs = json.load(f)
    for spec in specs:
        root = os.path.join(work, spec["root"])
        for fl in spec["files"]:
            path = os.path.join(root, fl["path"]) if fl["path"] else root
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as out:
                out.write(data(fl["length"], fl["seed"]))
        out = os.path.join(HERE, spec["torrent"])
        subprocess.run([sys.executable, LT_CREATE, "--piece-length", str(spec["piece_length"]),
                        "--version", spec["version"], out, root], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
