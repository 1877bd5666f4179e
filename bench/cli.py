"""The command line the agent and notify bench scripts share: the logward binary and a work
directory, then the script's own positional arguments and `--options`, so that each script
states only what it adds."""
import argparse


def parse(*positional, **options):
    """`options` maps a name (`interval_ms` → `--interval-ms`) to its (type, default)."""
    ap = argparse.ArgumentParser()
    for name in ("logward", "workdir") + positional:
        ap.add_argument(name)
    for name, (kind, default) in options.items():
        ap.add_argument("--" + name.replace("_", "-"), type=kind, default=default)
    return ap.parse_args()
