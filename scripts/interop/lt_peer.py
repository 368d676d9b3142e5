#!/usr/bin/python3
"""A libtorrent peer on loopback for interop tests and benchmarks.

Usage: /usr/bin/python3 lt_peer.py seed|get TORRENT SAVE_DIR [options]
       /usr/bin/python3 lt_peer.py magnet MAGNET_URI SAVE_DIR [options]

Prints JSON lines on stdout ({"event": "metadata", "seconds": S} when a
magnet's metadata has arrived, {"event": "first_piece", "seconds": S} when
the first piece has): {"event": "listening", "port": N} once the
listen socket is up, {"event": "finished", "seconds": S, ...} when a get has
every piece (then exits 0), and {"event": "error", ...} on failure (exit 1).
A seeder runs until it is killed. Everything stays on 127.0.0.1: LSD,
UPnP, NAT-PMP and PEX are off, and so is the DHT unless --dht-bootstrap
names loopback nodes to join (then the torrent is announced to it, and
{"event": "dht", "nodes": N} is printed once the node knows others).
"""
import argparse
import json
import sys
import time

import libtorrent as lt


def say(**kw):
    print(json.dumps(kw), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["seed", "get", "magnet"])
    ap.add_argument("torrent")
    ap.add_argument("save_dir")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--peer", action="append", default=[], help="HOST:PORT to connect to")
    ap.add_argument("--transport", choices=["tcp", "utp", "both"], default="tcp")
    ap.add_argument("--encryption", choices=["prefer", "require", "disable"], default="prefer")
    ap.add_argument("--upload-limit", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--listen", default="127.0.0.1", help="listen address (a namespace's own, for --lsd)")
    ap.add_argument("--lsd", action="store_true", help="local service discovery (only inside a test's network namespace)")
    ap.add_argument("--dht-bootstrap", action="append", default=[], help="HOST:PORT of a DHT node on loopback")
    ap.add_argument("--one-connection-per-ip", action="store_true",
                    help="libtorrent's default: refuse a second connection from an address already connected")
    args = ap.parse_args()

    tcp = args.transport in ("tcp", "both")
    utp = args.transport in ("utp", "both")
    enc = {"prefer": 1, "require": 0, "disable": 2}[args.encryption]
    settings = {
        "listen_interfaces": "%s:%d" % (args.listen, args.port),
        "enable_dht": False, "enable_lsd": args.lsd, "enable_upnp": False, "enable_natpmp": False,
        "allow_multiple_connections_per_ip": not args.one_connection_per_ip,
        "enable_outgoing_tcp": tcp, "enable_incoming_tcp": tcp,
        "enable_outgoing_utp": utp, "enable_incoming_utp": utp,
        "out_enc_policy": enc, "in_enc_policy": enc, "allowed_enc_level": 3 if enc == 1 else (2 if enc == 0 else 1),
        "alert_mask": lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
        | lt.alert.category_t.piece_progress_notification,
        "user_agent": "libtorrent-interop",
    }
    if args.dht_bootstrap:
        if not all(b.startswith("127.") for b in args.dht_bootstrap):
            raise SystemExit("--dht-bootstrap: loopback nodes only")
        # All test nodes share 127.0.0.1: relax the one-node-per-IP rules.
        settings.update({
            "enable_dht": True, "dht_bootstrap_nodes": ",".join(args.dht_bootstrap),
            "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
            "dht_prefer_verified_node_ids": False, "dht_ignore_dark_internet": False,
            "dht_announce_interval": 5,
        })
        settings["alert_mask"] |= lt.alert.category_t.dht_notification
    ses = lt.session(settings)
    if args.mode == "magnet":
        params = lt.parse_magnet_uri(args.torrent)
    else:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(args.torrent)
    params.save_path = args.save_dir
    if args.mode == "seed":
        params.flags |= lt.torrent_flags.seed_mode
    # Start at once: an auto-managed torrent waits for the session's queue
    # and turns peers away until then.
    params.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
    h = ses.add_torrent(params)
    if args.upload_limit:
        # Per torrent: the session-wide limit exempts peers on the local network.
        h.set_upload_limit(args.upload_limit)

    # Ready once listening and the torrent has left its checking states
    # (until then libtorrent turns away connections for it).
    deadline = time.time() + 30
    busy = (lt.torrent_status.states.checking_files, lt.torrent_status.states.checking_resume_data)
    while (not ses.is_listening() or h.status().state in busy or h.status().paused) and time.time() < deadline:
        time.sleep(0.02)
    say(event="listening", port=ses.listen_port())
    for p in args.peer:
        host, _, port = p.rpartition(":")
        h.connect_peer((host.strip("[]"), int(port)))

    start = time.time()
    end = start + args.timeout

    def finished():
        # The finished alert can come before the disk threads have written
        # everything: flush, and report only once the files are complete.
        seconds = time.time() - start
        h.flush_cache()
        h.pause()
        deadline = time.time() + 20
        while time.time() < deadline:
            if any(isinstance(a, lt.torrent_paused_alert) for a in ses.pop_alerts()):
                break
            time.sleep(0.02)
        say(event="finished", seconds=seconds, downloaded=h.status().total_payload_download)
        return 0

    said_metadata = False
    said_piece = False
    said_dht = False
    while time.time() < end:
        if args.dht_bootstrap and not said_dht and ses.status().dht_nodes > 0:
            said_dht = True
            h.force_dht_announce()
            say(event="dht", nodes=ses.status().dht_nodes)
        if args.mode == "magnet" and not said_metadata and h.status().has_metadata:
            said_metadata = True
            say(event="metadata", seconds=time.time() - start)
        for a in ses.pop_alerts():
            if isinstance(a, lt.metadata_received_alert) and not said_metadata:
                said_metadata = True
                say(event="metadata", seconds=time.time() - start)
            if isinstance(a, lt.piece_finished_alert) and not said_piece:
                said_piece = True
                say(event="first_piece", seconds=time.time() - start)
            if isinstance(a, lt.torrent_finished_alert) and args.mode != "seed":
                return finished()
            if isinstance(a, (lt.torrent_error_alert, lt.file_error_alert)):
                say(event="error", message=a.message())
                return 1
        if args.mode != "seed" and h.status().has_metadata and h.status().is_finished:
            return finished()
        # keep dialling peers we were told about, in case the first try raced their listener
        if args.peer and int(time.time() - start) % 5 == 0 and h.status().num_peers == 0:
            for p in args.peer:
                host, _, port = p.rpartition(":")
                h.connect_peer((host.strip("[]"), int(port)))
        ses.wait_for_alert(20)
    say(event="error", message="timeout after %.0fs" % args.timeout)
    return 1


if __name__ == "__main__":
    sys.exit(main())
