# trim.py cuts the OCSF schema compiled by ocsf-lib (PyPI ocsf-lib 0.10.4,
# `python -m ocsf.compile <ocsf-schema checkout>`) down to what the tests
# check: the two classes sluice emits, every object, every type, and of each
# attribute only its type, requirement, array-ness, profile and enum keys.
# Usage: python3 trim.py compiled.json > ocsf-1.2.0-schema.json
import json, sys

s = json.load(open(sys.argv[1]))

def attrs(a):
    out = {}
    for k, v in a.items():
        d = {"type": v.get("type")}
        for x in ("requirement", "is_array", "object_type", "profile"):
            if v.get(x) is not None:
                d[x] = v[x]
        if v.get("enum"):
            d["enum"] = sorted(v["enum"].keys())
        out[k] = d
    return out

json.dump({
    "version": s["version"],
    "classes": {c: {"uid": s["classes"][c]["uid"], "attributes": attrs(s["classes"][c]["attributes"])}
                for c in ("network_activity", "detection_finding")},
    "objects": {k: {"attributes": attrs(v["attributes"])} for k, v in s["objects"].items()},
    "types": {k: {"type": v.get("type")} for k, v in s["types"].items()},
}, sys.stdout, separators=(",", ":"), sort_keys=True)
