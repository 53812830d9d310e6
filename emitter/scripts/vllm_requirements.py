#!/usr/bin/env python3
"""Print the non-GPU requirements of a vLLM wheel, evaluated for this interpreter."""
import sys, zipfile, re
from packaging.requirements import Requirement
DROP = re.compile(r"^(torch|torchaudio|torchvision|torchcodec|nvidia-.*|flashinfer.*|tilelang|apache-tvm-ffi|quack-kernels|tokenspeed-mla|humming-kernels|pynvvideocodec|nvtx|fastsafetensors|instanttensor|xformers|ray|zentorch|cupy.*|triton)$", re.I)
RELAX = {"certifi"}  # pins newer than the registry carries; any recent release serves the scheduler
whl = sys.argv[1]
z = zipfile.ZipFile(whl)
meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
for line in z.read(meta).decode().splitlines():
    if not line.startswith("Requires-Dist:"): continue
    r = Requirement(line.split(":",1)[1].strip())
    if r.marker and not r.marker.evaluate({"extra": ""}): continue
    if DROP.match(r.name): continue
    if r.name.lower() in RELAX: print(r.name); continue
    print(str(r).split(";")[0])
