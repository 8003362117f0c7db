#!/usr/bin/env python3
"""Turns the raw measurements of bench/run.sh into the table (stdout) and the JSON report.

    summarize.py META.json RESULTS.jsonl NOTES.jsonl OUT.json

RESULTS.jsonl: one {"config","figure","metric","unit","server","round","value"} per line.
Each figure's value is the median over rounds; ratio = Onsen / registry:2; targets are the
project's (bench/README.md).
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
    s = meta["settings"]
    blob = "%d MiB" % s["blob_mib"] if s["blob_mib"] % 1024 else "%d GiB" % (s["blob_mib"] // 1024)
    req = []
    for fig, label in (("manifest_get", "GET manifest by tag"), ("blob_head", "HEAD blob"),
                       ("tags_list", "GET tags/list (%d tags)" % s["tags"]),
                       ("catalog", "GET _catalog?n=100 (%d repos)" % s["repos"])):
        req += [
            dict(figure=fig, metric="rps", label=label + " req/s", unit="req/s", target=("ratio>=", 10)),
            dict(figure=fig, metric="p50", label="  p50 latency", name=label + " p50", unit="ms", target=None),
            dict(figure=fig, metric="p99", label="  p99 latency", name=label + " p99", unit="ms",
                 target=("ratio<=", 1 / 3)),
        ]
    return req + [
        dict(figure="tls_handshake", metric="rps", label="new TLS handshakes/s (GET /v2/, Connection: close)",
             unit="hs/s", target=("ratio>=", 2), configs=("tls",)),
        dict(figure="tls_handshake", metric="p99", label="  p99 latency", name="TLS handshake p99", unit="ms",
             target=None, configs=("tls",)),
        dict(figure="push_monolithic", metric="MB/s", label="blob push %s monolithic" % blob, unit="MB/s",
             target=("ratio>=", 2), floor=True),
        dict(figure="push_chunked", metric="MB/s", label="blob push %s chunked (%d MiB PATCHes)" % (blob, s["chunk_mib"]),
             unit="MB/s", target=("ratio>=", 3), floor=True),
        dict(figure="pull_1", metric="MB/s", label="blob pull %s, 1 stream" % blob, unit="MB/s",
             target={"plain": ("nginx>=", 0.9), "tls": ("ratio>=", 1.5)}),
        dict(figure="pull_n", metric="MB/s", label="blob pull %s, %d streams (total)" % (blob, s["pull_streams"]),
             unit="MB/s", target=None),
        dict(figure="skopeo_in", metric="seconds", label="skopeo copy in (%d layers, %d MiB)" % (s["image_layers"], s["image_mib"]),
             unit="s", target=("ratio<=", 1)),
        dict(figure="skopeo_out", metric="seconds", label="skopeo copy out", unit="s", target=("ratio<=", 1)),
        dict(figure="seed", metric="seconds", label="seeding via the API (%d tag PUTs, %d x (2 mounts + PUT))"
             % (s["tags"], s["repos"]), unit="s", target=None),
        dict(figure="rss_idle", metric="MiB", label="RSS idle after start", unit="MiB", target=("ratio<=", 0.25)),
        dict(figure="rss_after", metric="MiB", label="RSS after the run", unit="MiB", target=None),
        dict(figure="rss_idle_conns", metric="MiB", label="RSS with %d idle keep-alive conns" % s["idle_connections"],
             unit="MiB", target=("onsen<=", 64), configs=("plain",)),
    ]


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

    ctx = {
        "sha256_16k_MBps": median(values("machine", "sha256_16k", "MB/s", "machine")),
        "loopback_tcp_MBps": median(values("machine", "loopback_tcp", "MB/s", "machine")),
        "disk_fdatasync_MBps": median(values("machine", "disk_fdatasync", "MB/s", "machine")),
        "nginx_sendfile_pull_MBps": median(values("plain", "nginx_pull_1", "MB/s", "nginx")),
    }
    floor_base = [v for v in (ctx["sha256_16k_MBps"], ctx["disk_fdatasync_MBps"]) if v]
    push_floor = 0.8 * min(floor_base) if floor_base else None
    ctx["push_floor_MBps"] = round(push_floor, 1) if push_floor else None

    table, out_rows = [], []
    misses = []
    for config in meta["configs"]:
        for row in rows_for(meta):
            if config not in row.get("configs", (config,)):
                continue
            med = {}
            rounds = {}
            for srv in SERVERS:
                rounds[srv] = values(config, row["figure"], row["metric"], srv)
                med[srv] = median(rounds[srv])
            ratio = med["onsen"] / med["registry"] if med["onsen"] is not None and med["registry"] else None
            tgt = row["target"]
            if isinstance(tgt, dict):
                tgt = tgt.get(config)
            checks = []
            if tgt:
                kind, x = tgt
                if kind == "ratio>=":
                    checks.append(("ratio >= %g" % x, ratio is not None and ratio >= x, ratio is not None))
                elif kind == "ratio<=":
                    checks.append(("ratio <= %s" % ("1/3" if abs(x - 1 / 3) < 1e-9 else "%g" % x),
                                   ratio is not None and ratio <= x, ratio is not None))
                elif kind == "nginx>=":
                    ng = ctx["nginx_sendfile_pull_MBps"]
                    ok = med["onsen"] is not None and ng is not None and med["onsen"] >= x * ng
                    checks.append((">= %g%% of nginx (%s)" % (x * 100, fmt(x * ng) if ng else "?"), ok,
                                   med["onsen"] is not None and ng is not None))
                elif kind == "onsen<=":
                    checks.append(("Onsen <= %g MiB" % x, med["onsen"] is not None and med["onsen"] <= x,
                                   med["onsen"] is not None))
            if row.get("floor") and push_floor:
                checks.append((">= %s MB/s" % fmt(push_floor), med["onsen"] is not None and med["onsen"] >= push_floor,
                               med["onsen"] is not None))
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
                spread[srv] = round((max(v) - min(v)) / med[srv], 3) if len(v) > 1 and med[srv] else None
            out_rows.append(dict(config=config, figure=row["figure"], metric=row["metric"], unit=row["unit"],
                                 label=row.get("name", row["label"]).strip(), onsen=med["onsen"], registry=med["registry"],
                                 ratio=round(ratio, 4) if ratio is not None else None,
                                 rounds=rounds, spread=spread, target=target_text, status=status))
            table.append((config, row["label"], row["unit"], fmt(med["onsen"]), fmt(med["registry"]),
                          ("%.2fx" % ratio) if ratio is not None else "-", target_text, status))

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
    head = ("config", "figure", "unit", "Onsen", "registry:2", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in table + [head]) for i in range(len(head))]
    aligns = ["<", "<", "<", ">", ">", ">", "<", "<"]

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
    print("machine (same run): SHA-256 (openssl speed -evp sha256, 16 KiB, 1 core) %s MB/s; loopback TCP (iperf3) %s MB/s;"
          % (fmt(ctx["sha256_16k_MBps"]), fmt(ctx["loopback_tcp_MBps"])))
    print("  disk write (dd conv=fdatasync) %s MB/s; nginx sendfile pull, 1 stream, plain HTTP %s MB/s; push floor 0.8 x min(SHA-256, disk) = %s MB/s"
          % (fmt(ctx["disk_fdatasync_MBps"]), fmt(ctx["nginx_sendfile_pull_MBps"]), fmt(push_floor)))
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
