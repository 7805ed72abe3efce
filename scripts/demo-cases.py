#!/usr/bin/env python3
"""Writes OUT/cases/<eye>.json for the first N test images of a cohort, the per-image input of
`capillary report` (Sources/Report). Standard library only, plus the repository's Python client.

For each image it asks the running capillaryd for `stage` (GNN) and the streamed `explain` (student VLM), and
`attribute` (integrated gradients) when the daemon has that method; a daemon without it answers -32601 and
the case records that as a note (the report then shows the attribution as not provided). With --bin, the
`capillary` CLI also draws the graph overlay (`capillary graph --overlay`) and the daemon writes the IG
heatmap next to it. Nothing is filled in: a part that could not be produced is left out of the case file
and named in its "notes".

    scripts/demo-cases.py --cohort demo-out/cohort --socket demo-out/capillary.sock --out demo-out \\
        [--count 4] [--bin .build/release] [--explain-model vlm-ft]
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "clients", "python"))
from capillary_client import Client, MethodNotFound, RPCError  # noqa: E402


def test_images(cohort, count):
    """Relative image paths of the first `count` test-split entries of the cohort's manifest, in order."""
    out = []
    with open(os.path.join(cohort, "manifest.jsonl")) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            if entry.get("split") == "test":
                out.append(entry["path"])
            if len(out) == count:
                break
    return out


def truth_of(cohort, rel_image):
    """Ground truth from the simulator's meta JSON next to the image (None when there is none)."""
    meta_path = os.path.join(cohort, rel_image.replace("images/", "meta/", 1).rsplit(".", 1)[0] + ".json")
    if not os.path.exists(meta_path):
        return None
    meta = json.load(open(meta_path))
    return {"stage": meta.get("stage"), "severity": meta.get("severity"), "fazAreaMM2": meta.get("faz_area_mm2")}


def stated_stage(text):
    """The stage named by the explanation's `Stage:` line, lower-cased, or None."""
    m = re.search(r"Stage:\s*([A-Za-z]+)", text or "")
    return m.group(1).lower() if m else None


def attribution_of(result):
    """The report's attribution record from an attribute result: `convergenceDelta` and up to 10 `top`
    structures `{type, index, sector, score}`. Returns None when the result has neither."""
    if not isinstance(result, dict):
        return None
    out = {}
    delta = result.get("convergenceDelta", result.get("delta"))
    if isinstance(delta, (int, float)):
        out["convergenceDelta"] = delta
    top = result.get("top", result.get("structures"))
    if isinstance(top, list):
        keep = []
        for s in top[:10]:
            if isinstance(s, dict) and isinstance(s.get("score"), (int, float)):
                keep.append({k: s.get(k) for k in ("type", "index", "sector", "score")})
        out["top"] = keep
    return out or None


def run(cmd, notes, what):
    """Runs a CLI command; on failure adds a note with the subcommand and its first error line, returns False."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        lines = [l.strip() for l in p.stderr.splitlines() if l.strip()]
        first = lines[0] if lines else "exit status %d" % p.returncode
        notes.append(f"{what} not produced: `capillary {cmd[1]}` failed: {first}")
        return False
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cohort", required=True, help="cohort folder with manifest.jsonl (capillary generate)")
    ap.add_argument("--socket", required=True, help="capillaryd's Unix socket")
    ap.add_argument("--out", required=True, help="demo output folder (cases/ is written inside)")
    ap.add_argument("--count", type=int, default=4, help="test images to write (default 4)")
    ap.add_argument("--bin", help="folder with the capillary CLI, for overlays and heatmaps")
    ap.add_argument("--max-tokens", type=int, default=160, help="explanation length limit")
    ap.add_argument("--explain-model", help="VLM name in the store for explain (daemon default: vlm)")
    ap.add_argument("--stage-model", help="GNN name in the store for stage (daemon default: graphnet)")
    args = ap.parse_args()

    cohort = os.path.abspath(args.cohort)
    out = os.path.abspath(args.out)
    cases_dir = os.path.join(out, "cases")
    pics_dir = os.path.join(out, "case-pictures")
    os.makedirs(cases_dir, exist_ok=True)
    images = test_images(cohort, args.count)
    if not images:
        sys.exit(f"{cohort}/manifest.jsonl has no test-split image")
    cli = os.path.join(args.bin, "capillary") if args.bin else None
    if cli:
        os.makedirs(pics_dir, exist_ok=True)

    with Client(args.socket) as c:
        has_attribute = True
        for rel in images:
            image = os.path.join(cohort, rel)
            name = os.path.splitext(os.path.basename(rel))[0]
            notes = []
            case = {"image": image}
            truth = truth_of(cohort, rel)
            if truth:
                case["truth"] = truth
            else:
                notes.append("no meta JSON beside the image: truth unknown")

            st = c.stage(image, model=args.stage_model)
            case["gnn"] = {"stage": st.get("stage"), "probabilities": st.get("probabilities")}

            extra = {"model": args.explain_model} if args.explain_model else {}
            stream = c.explain(image, maxTokens=args.max_tokens, **extra)
            text = "".join(d for d in stream if d)
            result = stream.result or {}
            case["explanation"] = text
            case["explanationStage"] = result.get("stage") if "stage" in result else stated_stage(text)

            if has_attribute:
                try:
                    params = {"image": {"path": image}}
                    heat = os.path.join(pics_dir, name + ".heatmap.png")
                    if cli:
                        params["heatmap"] = {"path": heat}
                    answer = c.call("attribute", params)
                    att = attribution_of(answer)
                    if isinstance(answer.get("heatmap"), dict) and answer["heatmap"].get("path"):
                        case["heatmap"] = answer["heatmap"]["path"]
                    if att:
                        case["attribution"] = att
                    else:
                        notes.append("the daemon's attribute result has no convergenceDelta/top")
                except MethodNotFound:
                    has_attribute = False
                except RPCError as e:
                    notes.append(f"attribute failed: {e}")
            if not has_attribute:
                notes.append("attribution not produced: this capillaryd has no `attribute` method (-32601)")

            if cli:
                overlay = os.path.join(pics_dir, name + ".overlay.png")
                graph_json = os.path.join(pics_dir, name + ".graph.json")
                if run([cli, "graph", image, "--out", graph_json, "--overlay", overlay], notes, "overlay"):
                    case["overlay"] = overlay
            else:
                notes.append("overlay and heatmap not produced: no --bin given")

            if notes:
                case["notes"] = notes
            with open(os.path.join(cases_dir, name + ".json"), "w") as f:
                json.dump(case, f, indent=1, sort_keys=True)
            print(f"{name}: truth {truth and truth['stage']}, GNN {case['gnn']['stage']}, "
                  f"student {case['explanationStage']}" + (f" ({len(notes)} note(s))" if notes else ""))
    print(f"wrote {len(images)} case(s) to {cases_dir}")


if __name__ == "__main__":
    main()
