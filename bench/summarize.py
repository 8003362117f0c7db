#!/usr/bin/env python3
"""Turns the raw measurements of bench/run.sh into the table (stdout) and the JSON report.

    summarize.py META.json RESULTS.jsonl NOTES.jsonl OUT.json

RESULTS.jsonl: one {"config","figure","metric","unit","server","round","value"} per line.
Each figure's value is the median over rounds (or the min/max a row asks for); ratio = Onsen /
registry:2; limit = the machine's for that figure, measured in the same run (nginx, openssl speed,
dd), and Onsen/limit; targets are the project's (bench/README.md). Rows nothing was measured for
(groups BENCH_ONLY left out) are not shown.
"""
import json
import statistics
import sys

SERVERS = ("onsen", "registry")


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def rows_for(meta):
    """The table's rows. agg: how a server's values over rounds (or hey runs) become its figure;
    limit: the machine's limit the row is compared with (see limits()); target: one check or a
    list of them, or a dict by configuration."""
    s = meta["settings"]
    blob = "%d MiB" % s["blob_mib"] if s["blob_mib"] % 1024 else "%d GiB" % (s["blob_mib"] // 1024)
    req = []
    for fig, label in (("manifest_get", "GET manifest by tag"), ("blob_head", "HEAD blob"),
                       ("tags_list", "GET tags/list (%d tags)" % s["tags"]),
                       ("catalog", "GET _catalog?n=100 (%d repos)" % s["repos"])):
        req += [
            dict(figure=fig, metric="rps", label=label + " req/s", unit="req/s",
                 target={"plain": ("ratio>=", 10), "tls": ("ratio>=", 10), "s3": ("ratio>=", 5)}),
            dict(figure=fig, metric="p50", label="  p50 latency", name=label + " p50", unit="ms", target=None),
            dict(figure=fig, metric="p99", label="  p99 latency", name=label + " p99", unit="ms",
                 target={"plain": ("ratio<=", 1 / 3), "tls": ("ratio<=", 1 / 3)}),
            # s3: the gateway's request counter over the wrk run / the requests answered. A listing
            # that walks the bucket per request costs tens of gateway requests each.
            dict(figure=fig + "_gwreq", metric="per_req", label="  gateway requests per request",
                 name=label + " gateway requests per request", unit="gw req",
                 target=("onsen<=", 1) if fig in ("tags_list", "catalog") else None, configs=("s3",)),
        ]
    tls = ("tls",)
    runs = s.get("hey_runs", 10)
    hey = "hey -z %ds -c %d -m HEAD /v2/ (Go client)" % (s.get("hey_seconds", 3), s.get("hey_connections", 64))
    hol = []
    pushers = s.get("hol_pushers", 8)
    for mib in s.get("hol_mib", []):
        name = "GET /v2/ + manifest every 5 ms, %d x %d MiB pushes" % (pushers, mib)
        hol += [
            dict(figure="hol_%d" % mib, metric="p50", label=name + ": p50", unit="ms", target=("onsen<=", 5),
                 configs=("plain",)),
            dict(figure="hol_%d" % mib, metric="p99", label="  p99", name=name + ": p99", unit="ms",
                 target=("onsen<=", 50), configs=("plain",)),
        ]
    if hol:
        hol += [
            dict(figure="hol_idle", metric="p50", label="same probe, idle: p50", unit="ms", target=None, configs=("plain",)),
            dict(figure="hol_idle", metric="p99", label="  p99", name="same probe, idle: p99", unit="ms", target=None,
                 configs=("plain",)),
        ]
    gc_store = s.get("gc_store") or {}
    gc_what = "%d repos, %s manifests, %s blobs" % (s.get("gc_repos", 0), gc_store.get("manifests", "?"),
                                                     gc_store.get("blobs", "?"))
    gc = [
        dict(figure="gc_offline", metric="seconds", label="garbage-collect %s (%s): time" % (s.get("gc_flags", ""), gc_what),
             unit="s", target=("ratio<=", 0.1), configs=("plain",)),
        dict(figure="gc_offline_dry", metric="seconds", label="  the same with --dry-run (mark and listings only)",
             name="garbage-collect --dry-run: time", unit="s", target=None, configs=("plain",)),
        dict(figure="gc_offline_mix", metric="seconds",
             label="  the same on a store mostly kept (BENCH_GC_MIX: 3% of tags moved, of repos with an orphan)",
             name="garbage-collect, store mostly kept: time", unit="s", target=("ratio<=", 0.1), configs=("plain",)),
        dict(figure="gc_idle", metric="p99", label="manifest GET every 5 ms, idle: p99", unit="ms", target=None,
             configs=("plain",)),
        dict(figure="gc_online", metric="p99", label="  during online collections (POST /admin/gc): p99",
             name="manifest GET during online collections: p99", unit="ms", target=None, configs=("plain",)),
        dict(figure="gc_online_vs_idle", metric="ratio", label="  p99 during collections / p99 idle",
             name="manifest GET p99 during online collections / idle", unit="x", target=("onsen<=", 2),
             configs=("plain",)),
    ]
    s3blob = "%d MiB" % s.get("s3_blob_mib", 0)
    s3hol = "GET /v2/ + manifest every 5 ms, %d x %d MiB pushes, store +%d ms" % (
        pushers, s.get("s3_hol_mib", 0), s.get("s3_delay_ms", 0))
    s3 = ("s3",)
    s3rows = [
        dict(figure="catalog_single", metric="ms", label="one GET _catalog?n=100 alone (%d repos): time" % s["repos"],
             unit="ms", target=None, configs=s3),
        dict(figure="catalog_single_gwreq", metric="requests", label="  its gateway requests", unit="gw req",
             name="one GET _catalog?n=100 alone: gateway requests", target=None, configs=s3),
        dict(figure="push_monolithic", metric="MB/s", label="blob push %s monolithic" % s3blob, unit="MB/s",
             target=[("ratio>=", 1), ("limit>=", 0.8)], limit="gw_put", configs=s3),
        dict(figure="push_chunked", metric="MB/s", label="blob push %s chunked (%d MiB PATCHes)" % (s3blob, s["chunk_mib"]),
             unit="MB/s", target=[("ratio>=", 1), ("limit>=", 0.8)], limit="gw_put", configs=s3),
        dict(figure="pull_1", metric="MB/s", label="blob pull %s, 1 stream" % s3blob, unit="MB/s", limit="gw_get",
             target=[("ratio>=", 1), ("limit>=", 0.8)], configs=s3),
        dict(figure="s3hol_%d" % s.get("s3_hol_mib", 0), metric="p50", label=s3hol + ": p50", unit="ms",
             target=("onsen<=", 5), configs=s3),
        dict(figure="s3hol_%d" % s.get("s3_hol_mib", 0), metric="p99", label="  p99", name=s3hol + ": p99", unit="ms",
             target=("onsen<=", 50), configs=s3),
    ]
    for path, what in (("v2", "GET /v2/"), ("manifest", "manifest GET")):
        s3rows += [
            dict(figure="s3hol_%d_%s" % (s.get("s3_hol_mib", 0), path), metric="p50", label="  %s alone: p50" % what,
                 name=s3hol + ", " + what + ": p50", unit="ms", target=None, configs=s3),
            dict(figure="s3hol_%d_%s" % (s.get("s3_hol_mib", 0), path), metric="p99", label="    p99",
                 name=s3hol + ", " + what + ": p99", unit="ms", target=None, configs=s3),
        ]
    for path, what in (("", "both"), ("_v2", "GET /v2/"), ("_manifest", "manifest GET")):
        s3rows += [
            dict(figure="s3hol_idle" + path, metric="p50", label="same probe, idle, %s: p50" % what, unit="ms",
                 target=None, configs=s3),
            dict(figure="s3hol_idle" + path, metric="p99", label="  p99", name="same probe, idle, %s: p99" % what,
                 unit="ms", target=None, configs=s3),
        ]
    s3rows.append(dict(figure="s3hol_store_calls", metric="calls", label="  store calls during the probe run",
                       unit="calls", target=None, configs=s3))
    return req + [
        # wrk keeps its TLS session across reconnects and both servers issue tickets: mostly resumptions.
        dict(figure="tls_handshake", metric="rps", label="new TLS connections/s (wrk, Connection: close, resumed)",
             unit="hs/s", target=("ratio>=", 2), configs=tls),
        dict(figure="tls_handshake", metric="p99", label="  p99 latency", name="TLS handshake p99", unit="ms",
             target=None, configs=tls),
        dict(figure="full_handshake", metric="rps", label="full TLS handshakes/s (%d clients, no resumption)"
             % s.get("handshake_clients", 16), unit="hs/s", target=("limit>=", 0.9), limit="rsa", configs=tls),
        dict(figure="full_handshake", metric="p99", label="  p99 handshake time", name="full TLS handshake p99",
             unit="ms", target=None, configs=tls),
        dict(figure="hey", metric="rps", agg="min", label=hey + ": min of %d runs" % runs, unit="req/s",
             target=("onsen>=", 10000), configs=tls),
        dict(figure="hey", metric="rps", label="  median of %d runs" % runs, name=hey + ": median", unit="req/s",
             target=None, configs=tls),
        dict(figure="hey_fresh", metric="ms", agg="max", label="  fresh curl GET /v2/ right after each run, max",
             name="hey: fresh connect max", unit="ms", target=("onsen<=", 100), configs=tls),
        dict(figure="hey_close_wait", metric="conns", agg="max", label="  CLOSE-WAIT sockets right after a run, max",
             name="hey: CLOSE-WAIT max", unit="conns", target=None, configs=tls),
        dict(figure="hey_settle", metric="seconds", agg="max", label="  server busy after a run (CLOSE-WAIT or > 10% CPU), max",
             name="hey: busy after max", unit="s", target=None, configs=tls),
        dict(figure="push_monolithic", metric="MB/s", label="blob push %s monolithic" % blob, unit="MB/s",
             target=[("ratio>=", 2), ("limit>=", 0.8)], limit="push", configs=("plain", "tls")),
        dict(figure="push_chunked", metric="MB/s", label="blob push %s chunked (%d MiB PATCHes)" % (blob, s["chunk_mib"]),
             unit="MB/s", target=[("ratio>=", 3), ("limit>=", 0.8)], limit="push", configs=("plain", "tls")),
        dict(figure="pull_1", metric="MB/s", label="blob pull %s, 1 stream" % blob, unit="MB/s", limit="nginx_1",
             configs=("plain", "tls"),
             target={"plain": [("ratio>=", 1), ("limit>=", 1)], "tls": [("ratio>=", 1.5), ("limit>=", 0.9)]}),
        dict(figure="pull_1_pushed", metric="MB/s", label="  1 stream, right after its push (dirty pages)",
             name="blob pull %s, 1 stream, just pushed" % blob, unit="MB/s", target=None),
        dict(figure="pull_n", metric="MB/s", label="blob pull %s, %d streams (total)" % (blob, s["pull_streams"]),
             unit="MB/s", limit="nginx_n", target={"plain": [("ratio>=", 1), ("limit>=", 1)]}),
    ] + hol + gc + s3rows + [
        dict(figure="skopeo_in", metric="seconds", label="skopeo copy in (%d layers, %d MiB)" % (s["image_layers"], s["image_mib"]),
             unit="s", target=("ratio<=", 1)),
        dict(figure="skopeo_out", metric="seconds", label="skopeo copy out", unit="s", target=("ratio<=", 1)),
        dict(figure="seed", metric="seconds", label="seeding via the API (%d tag PUTs, %d x (2 mounts + PUT))"
             % (s["tags"], s["repos"]), unit="s", target=None),
        dict(figure="rss_idle", metric="MiB", label="RSS idle after start", unit="MiB", target=None),
        dict(figure="rss_after", metric="MiB", label="RSS after the run", unit="MiB", target=None),
        dict(figure="rss_idle_conns", metric="MiB", label="RSS with %d idle keep-alive conns" % s["idle_connections"],
             unit="MiB", target=("onsen<=", 64), configs=("plain",)),
    ]


AGG = {"median": statistics.median, "min": min, "max": max}


def main():
    meta_path, res_path, notes_path, out_path = sys.argv[1:5]
    with open(meta_path) as f:
        meta = json.load(f)
    results = [json.loads(l) for l in open(res_path) if l.strip()]
    notes = [json.loads(l) for l in open(notes_path) if l.strip()]

    def values(config, figure, metric, server):
        return [r["value"] for r in results if r["config"] == config and r["figure"] == figure
                and r["metric"] == metric and r["server"] == server and r["value"] is not None]

    def median(vals):
        return statistics.median(vals) if vals else None

    cpus = meta["host"]["cpus"]
    ctx = {
        "sha256_16k_MBps": median(values("machine", "sha256_16k", "MB/s", "machine")),
        "rsa4096_sign_per_s": median(values("machine", "rsa4096_sign", "sign/s", "machine")),
        "loopback_tcp_MBps": median(values("machine", "loopback_tcp", "MB/s", "machine")),
        "disk_fdatasync_MBps": median(values("machine", "disk_fdatasync", "MB/s", "machine")),
        "s3_gateway_put_MBps": median(values("s3", "gw_put", "MB/s", "gateway")),
        "s3_gateway_get_MBps": median(values("s3", "gw_get", "MB/s", "gateway")),
    }
    for config in ("plain", "tls"):
        for fig in ("nginx_pull_1", "nginx_pull_n"):
            ctx["%s_%s_MBps" % (fig, config)] = median(values(config, fig, "MB/s", "nginx"))
    floor_base = [v for v in (ctx["sha256_16k_MBps"], ctx["disk_fdatasync_MBps"]) if v]
    ctx["push_limit_MBps"] = min(floor_base) if floor_base else None
    ctx["rsa4096_sign_all_cores_per_s"] = ctx["rsa4096_sign_per_s"] * cpus if ctx["rsa4096_sign_per_s"] else None

    def limit(config, key):
        """(value, label) of the machine limit a row compares with."""
        if key == "push":
            return ctx["push_limit_MBps"], "min(SHA,disk)"
        if key == "rsa":
            return ctx["rsa4096_sign_all_cores_per_s"], "RSA sign x%d" % cpus
        if key in ("gw_put", "gw_get"):
            return ctx["s3_gateway_%s_MBps" % key[3:]], "S3 " + key[3:].upper()
        if key in ("nginx_1", "nginx_n"):
            return ctx["nginx_pull_%s_%s_MBps" % (key[-1], config)], "nginx" + (" TLS" if config == "tls" else "")
        return None, ""

    table, out_rows = [], []
    misses = []
    for config in meta["configs"]:
        for row in rows_for(meta):
            if config not in row.get("configs", (config,)):
                continue
            agg = AGG[row.get("agg", "median")]
            med = {}
            rounds = {}
            for srv in SERVERS:
                rounds[srv] = values(config, row["figure"], row["metric"], srv)
                med[srv] = agg(rounds[srv]) if rounds[srv] else None
            if not any(rounds.values()):
                continue  # a group BENCH_ONLY left out, or a figure that failed on both (see the notes)
            on = med["onsen"]
            ratio = on / med["registry"] if on is not None and med["registry"] else None
            lim, lim_label = limit(config, row.get("limit"))
            lim_ratio = on / lim if on is not None and lim else None
            tgt = row["target"]
            if isinstance(tgt, dict):
                tgt = tgt.get(config)
            if isinstance(tgt, tuple):
                tgt = [tgt]
            checks = []  # (text, ok, measurable)
            for kind, x in tgt or ():
                if kind == "ratio>=":
                    checks.append(("ratio >= %g" % x, ratio is not None and ratio >= x, ratio is not None))
                elif kind == "ratio<=":
                    checks.append(("ratio <= %s" % ("1/3" if abs(x - 1 / 3) < 1e-9 else "%g" % x),
                                   ratio is not None and ratio <= x, ratio is not None))
                elif kind == "limit>=":
                    checks.append(("Onsen/limit >= %g" % x, lim_ratio is not None and lim_ratio >= x, lim_ratio is not None))
                elif kind == "onsen<=":
                    checks.append(("Onsen <= %g %s" % (x, row["unit"]), on is not None and on <= x, on is not None))
                elif kind == "onsen>=":
                    checks.append(("Onsen >= %g %s" % (x, row["unit"]), on is not None and on >= x, on is not None))
            target_text = ", ".join(c[0] for c in checks)
            if not checks:
                status = ""
            elif not all(c[2] for c in checks):
                status = "n/a"
            else:
                status = "ok" if all(c[1] for c in checks) else "MISS"
            if status == "MISS":
                misses.append("%s: %s" % (config, row.get("name", row["label"]).strip()))
            spread = {}
            for srv in SERVERS:
                v = rounds[srv]
                m = median(v)
                spread[srv] = round((max(v) - min(v)) / m, 3) if len(v) > 1 and m else None
            out_rows.append(dict(config=config, figure=row["figure"], metric=row["metric"], unit=row["unit"],
                                 agg=row.get("agg", "median"), label=row.get("name", row["label"]).strip(),
                                 onsen=on, registry=med["registry"], ratio=round(ratio, 4) if ratio is not None else None,
                                 limit=lim, limit_name=lim_label if lim else None,
                                 onsen_limit_ratio=round(lim_ratio, 4) if lim_ratio is not None else None,
                                 rounds=rounds, spread=spread, target=target_text, status=status))
            table.append((config, row["label"], row["unit"], fmt(on), fmt(med["registry"]),
                          ("%.2fx" % ratio) if ratio is not None else "-",
                          ("%s %s" % (fmt(lim), lim_label)) if lim else "",
                          ("%.2f" % lim_ratio) if lim_ratio is not None else "", target_text, status))

    # ---- print
    s = meta["settings"]
    print()
    if not meta.get("complete", True):
        print("*** INCOMPLETE RUN (aborted): only what was measured before the stop ***")
    print("Onsen vs registry:2 (%s) -- medians over %d round(s)%s; ratio = Onsen / registry:2"
          % (meta.get("registry") or "docker-registry", meta["rounds"], ", QUICK sizes" if meta.get("quick") else ""))
    print("host: %s CPU(s) %s, load %s -> %s; wrk %ds, %d conns, %d threads; log level %s; onsen %s"
          % (meta["host"]["cpus"], meta["host"]["cpu"], meta["host"]["loadavg_start"], meta["host"]["loadavg_end"],
             s["wrk_seconds"], s["connections"], s["wrk_threads"], s["log_level"], meta["onsen"]["commit"]))
    head = ("config", "figure", "unit", "Onsen", "registry:2", "ratio", "limit", "Onsen/limit", "target", "")
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    aligns = ["<", "<", "<", ">", ">", ">", ">", ">", "<", "<"]

    def line(r):
        return "  ".join(("{:%s%d}" % (a, w)).format(str(c)) for c, a, w in zip(r, aligns, widths)).rstrip()

    print(line(head))
    print("  ".join("-" * w for w in widths))
    last = None
    for r in table:
        if last is not None and r[0] != last:
            print()
        print(line(r if r[0] != last else ("",) + tuple(r[1:])))
        last = r[0]
    print()
    if ctx["sha256_16k_MBps"] is not None:  # an s3-only run measures no filesystem context
        print("machine (same run): SHA-256 (openssl speed -evp sha256, 16 KiB, 1 core) %s MB/s; RSA-4096 signs/s "
              "(openssl speed rsa4096, 1 core) %s, x %d cores = %s; loopback TCP (iperf3) %s MB/s;"
              % (fmt(ctx["sha256_16k_MBps"]), fmt(ctx["rsa4096_sign_per_s"]), cpus,
                 fmt(ctx["rsa4096_sign_all_cores_per_s"]), fmt(ctx["loopback_tcp_MBps"])))
        print("  disk write (dd conv=fdatasync) %s MB/s; nginx sendfile pull: 1 stream %s MB/s, %d streams %s MB/s, "
              "1 stream over TLS %s MB/s"
              % (fmt(ctx["disk_fdatasync_MBps"]), fmt(ctx["nginx_pull_1_plain_MBps"]), s["pull_streams"],
                 fmt(ctx["nginx_pull_n_plain_MBps"]), fmt(ctx["nginx_pull_1_tls_MBps"])))
    if ctx["s3_gateway_put_MBps"] or ctx["s3_gateway_get_MBps"]:
        print("  s3: the gateway alone, one client (curl --aws-sigv4, same blob): PUT %s MB/s, GET %s MB/s"
              % (fmt(ctx["s3_gateway_put_MBps"]), fmt(ctx["s3_gateway_get_MBps"])))
    print("limit: the machine's, same run (nginx on the same file; RSA-4096 signs/s x cores for handshakes; "
          "min(SHA-256, disk) for pushes); Onsen/limit = Onsen / that; hey rows: min/median/max over the runs")
    if misses:
        print("targets missed: " + "; ".join(misses))
    if notes:
        print("NOTES (failed requests, errors, warnings):")
        for n in notes:
            print("  [%s %s %s round %s] %s" % (n["config"], n["figure"], n["server"], n["round"], n["message"]))
    else:
        print("no failed request (every probe 200, wrk without errors or non-2xx, every transfer complete)")

    report = dict(meta, context=ctx, rows=out_rows, targets_missed=misses, notes=notes, raw=results)
    with open(out_path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
