#!/usr/bin/env python3
"""Compares two safetensors files tensor by tensor (F32 only, stdlib only).

Usage: compare_weights.py A B --rtol R [--zero-gradient PATTERN:LO:HI --atol X]
Passes when both hold the same tensor names and shapes and, over all tensors, max |a - b| <= R * max |a|
(a relative bound on the whole weight set: single elements near zero would make per-element relative
errors meaningless). Elements [LO, HI) of tensors matching PATTERN (fnmatch) are instead held to
max |a - b| <= X: for parameters whose exact gradient is zero (an attention key bias: softmax ignores a
constant added to every score), the computed gradient is rounding noise that Adam normalises into steps
of up to lr each, so the two runs' values there differ by up to 2 * lr * steps whatever the transport.
Prints the measured maxima and ratios; exit 1 on failure.
"""
import argparse, fnmatch, json, struct, sys
from array import array


def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            sys.exit(f"{path}: {name} is {info['dtype']}, only F32 is compared")
        lo, hi = info["data_offsets"]
        a = array("f")
        a.frombytes(data[lo:hi])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = (tuple(info["shape"]), a)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a"); p.add_argument("b"); p.add_argument("--rtol", type=float, required=True)
    p.add_argument("--zero-gradient", action="append", default=[], help="PATTERN:LO:HI")
    p.add_argument("--atol", type=float, default=0.0)
    args = p.parse_args()
    zero = [(pat, int(lo), int(hi)) for pat, lo, hi in (z.rsplit(":", 2) for z in args.zero_gradient)]
    a, b = load(args.a), load(args.b)
    if a.keys() != b.keys():
        sys.exit(f"tensor names differ: only in A {sorted(a.keys() - b.keys())}, only in B {sorted(b.keys() - a.keys())}")
    max_diff = max_abs = zero_diff = 0.0
    worst = ""
    zero_count = 0
    for name in sorted(a):
        (sa, va), (sb, vb) = a[name], b[name]
        if sa != sb:
            sys.exit(f"{name}: shape {sa} vs {sb}")
        ranges = [(lo, hi) for pat, lo, hi in zero if fnmatch.fnmatch(name, pat)]
        for i, (x, y) in enumerate(zip(va, vb)):
            d = abs(x - y)
            if d != d:  # NaN
                sys.exit(f"{name}[{i}]: NaN")
            if any(lo <= i < hi for lo, hi in ranges):
                zero_diff = max(zero_diff, d); zero_count += 1
                continue
            if d > max_diff:
                max_diff, worst = d, name
            max_abs = max(max_abs, abs(x))
    ratio = max_diff / max_abs if max_abs > 0 else 0.0
    print(f"compare_weights: {len(a)} tensors, max |a-b| {max_diff:.3e} (in {worst or '-'}), max |a| {max_abs:.3e}, ratio {ratio:.3e} (bound {args.rtol:g})"
          + (f"; {zero_count} zero-gradient elements: max |a-b| {zero_diff:.3e} (bound {args.atol:g})" if zero else ""))
    if not (ratio <= args.rtol) or (zero and not (zero_diff <= args.atol)):
        sys.exit(1)


if __name__ == "__main__":
    main()
