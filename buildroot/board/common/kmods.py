#!/usr/bin/env python3
"""Resolve kernel modules and their dependencies from .ko files alone (no depmod/modinfo needed).

usage: kmods.py MODULES_DIR LIST_FILE OUT_DIR
Copies each needed module (dependencies first) to OUT_DIR/<name>.ko and prints the load order.
Built-in modules (modules.builtin) and modules this kernel lacks are skipped. ext4/jbd2 declare crc32c only as a
soft dependency: it is mapped to crc32c_generic, or ext4 fails to mount.
"""
import lzma, os, re, sys

mdir, listfile, out = sys.argv[1], sys.argv[2], sys.argv[3]
norm = lambda n: n.replace("-", "_")
paths, builtin = {}, set()
for root, _, files in os.walk(mdir):
    for f in files:
        m = re.match(r"(.+)\.ko(\.xz)?$", f)
        if m:
            paths[norm(m.group(1))] = os.path.join(root, f)
bfile = os.path.join(mdir, "modules.builtin")
if os.path.exists(bfile):
    for line in open(bfile):
        builtin.add(norm(os.path.basename(line.strip()).split(".ko")[0]))

def read(name):
    p = paths[name]
    data = open(p, "rb").read()
    return lzma.decompress(data) if p.endswith(".xz") else data

def deps(name):
    data = read(name)
    d = []
    for m in re.finditer(rb"\x00(depends|softdep)=([^\x00]*)", b"\x00" + data):
        v = m.group(2).decode()
        if m.group(1) == b"depends":
            d += [norm(x) for x in v.split(",") if x]
        else:  # "pre: a b post: c"
            d += [norm(x) for x in v.replace("pre:", " ").replace("post:", " ").split()]
    return ["crc32c_generic" if x in ("crc32c", "crypto_crc32c") else x for x in d]

order, seen = [], set()
def visit(name):
    if name in seen:
        return
    seen.add(name)
    if name in builtin or name not in paths:
        return
    for d in deps(name):
        visit(d)
    order.append(name)

for line in open(listfile):
    line = line.split("#")[0].strip()
    if line:
        visit(norm(line))
os.makedirs(out, exist_ok=True)
for n in order:
    with open(os.path.join(out, n + ".ko"), "wb") as f:
        f.write(read(n))
print("\n".join(order))
