#!/usr/bin/python3
"""Time libtorrent's check of data already on disk.

Usage: /usr/bin/python3 lt_recheck.py [--hashing-threads N] TORRENT SAVE_PATH

Adds TORRENT with its data under SAVE_PATH to a session that reaches no
network, waits until libtorrent has checked every piece, and prints one
line: the seconds the check took and the pieces that passed, e.g.
"3.214 4096/4096". Exits 1 when not every piece passed.
"""
import argparse
import sys
import time

import libtorrent as lt


def main(argv):
    p = argparse.ArgumentParser(prog="lt_recheck.py")
    p.add_argument("--hashing-threads", type=int, default=0,
                   help="libtorrent's hashing_threads (default: its own)")
    p.add_argument("torrent")
    p.add_argument("save_path")
    args = p.parse_args(argv)

    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
    }
    if args.hashing_threads > 0:
        settings["hashing_threads"] = args.hashing_threads
    ses = lt.session(settings)
    ti = lt.torrent_info(args.torrent)
    atp = lt.add_torrent_params()
    atp.ti = ti
    atp.save_path = args.save_path
    start = time.monotonic()
    h = ses.add_torrent(atp)
    deadline = start + 3600
    while time.monotonic() < deadline:
        ses.wait_for_alert(1000)
        done = False
        for a in ses.pop_alerts():
            if isinstance(a, lt.torrent_checked_alert):
                done = True
            elif isinstance(a, lt.torrent_error_alert):
                sys.stderr.write("lt_recheck.py: %s\n" % a.message())
                return 1
        if done:
            break
    secs = time.monotonic() - start
    st = h.status()
    print("%.3f %d/%d" % (secs, st.num_pieces, ti.num_pieces()))
    return 0 if st.num_pieces == ti.num_pieces() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
