#!/usr/bin/env python3
"""Static checks of the image sources: buildroot/ (BR2_EXTERNAL tree), board/, rootfs-overlay/, scripts.

Buildroot cannot download sources on CI machines, so the tree is checked without building:
  - external.desc names the tree; external.mk includes every package .mk;
  - every `source` in a Config.in exists, and every package directory is sourced;
  - every package has <name>.mk, Config.in and <name>.hash; each .mk ends in an $(eval $(...-package)) and the
    service uses the cargo infrastructure; each Config.in symbol the defconfigs select from the tree is defined;
  - every defconfig's $(BR2_EXTERNAL_OJSCOG_PATH) paths exist, its board argument has genimage.cfg + rauc/system.conf,
    and the three defconfigs share the same ojscog block;
  - every script is executable and passes `bash -n` / `sh -n`;
  - every genimage config really builds (genimage runs on dummy inputs) into the GPT layout
    boot, bootstate, rootA, rootB, data, with rootA/rootB of the arm64 root type;
  - each RAUC system.conf parses, uses the custom backend, and names slots whose partitions the layout has.
Prints "ok"/"FAIL" lines and "tree: N passed, M failed"; exit 1 on failure.
"""
import configparser, json, os, re, shutil, subprocess, sys, tempfile

top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ext = os.path.join(top, "buildroot")
passed = failed = 0
def check(name, cond, detail=""):
    global passed, failed
    print(("ok   " if cond else "FAIL ") + name + ((": " + detail) if detail and not cond else ""))
    if cond: passed += 1
    else: failed += 1

def rd(p): return open(os.path.join(top, p)).read()
def expand(p): return p.replace("$(BR2_EXTERNAL_OJSCOG_PATH)", ext).replace("$BR2_EXTERNAL_OJSCOG_PATH", ext)

# external.desc / external.mk
desc = rd("buildroot/external.desc")
check("external.desc names the tree OJSCOG", re.search(r"^name:\s*OJSCOG\s*$", desc, re.M) is not None)
check("external.mk includes the package .mk files", "$(BR2_EXTERNAL_OJSCOG_PATH)/package/*/*.mk" in rd("buildroot/external.mk"))

# Config.in sources
sourced, defined = set(), set()
def walk_config(path):
    text = open(path).read()
    defined.update(re.findall(r"^\s*(?:menu)?config\s+(BR2_\w+)", text, re.M))
    for s in re.findall(r'^\s*source\s+"([^"]+)"', text, re.M):
        p = expand(s)
        check(f"sourced file exists: {s}", os.path.isfile(p))
        if os.path.isfile(p):
            sourced.add(os.path.abspath(p))
            walk_config(p)
walk_config(os.path.join(ext, "Config.in"))
pkgdir = os.path.join(ext, "package")
for name in sorted(os.listdir(pkgdir)):
    d = os.path.join(pkgdir, name)
    cfg, mk, h = (os.path.join(d, f) for f in ("Config.in", f"{name}.mk", f"{name}.hash"))
    check(f"package {name}: Config.in, {name}.mk, {name}.hash", all(os.path.isfile(f) for f in (cfg, mk, h)))
    check(f"package {name}: Config.in is sourced", os.path.abspath(cfg) in sourced)
    if os.path.isfile(mk):
        m = open(mk).read()
        var = name.upper().replace("-", "_")
        check(f"package {name}: .mk uses {var}_ variables and a package infrastructure",
              f"{var}_VERSION" in m and re.search(r"\$\(eval \$\((generic|cargo|cmake|autotools|python)-package\)\)", m) is not None)
        check(f"package {name}: Config.in defines BR2_PACKAGE_{var}", f"BR2_PACKAGE_{var}" in defined)
    if os.path.isfile(h):
        for line in open(h):
            line = line.strip()
            if line and not line.startswith("#"):
                check(f"package {name}: hash line well formed", re.match(r"^(sha256|sha512|md5|sha1)\s+[0-9a-f]{32,128}\s+\S+$", line) is not None, line)
check("ojscog uses the cargo package infrastructure", "$(eval $(cargo-package))" in rd("buildroot/package/ojscog/ojscog.mk"))

# defconfigs
confs = sorted(f for f in os.listdir(os.path.join(ext, "configs")) if f.endswith("_defconfig"))
check("defconfigs for rpi4, rpi5 and qemu virt", {"ojscog_rpi4_64_defconfig", "ojscog_rpi5_64_defconfig", "ojscog_qemu_aarch64_virt_defconfig"} <= set(confs), str(confs))
blocks = {}
for c in confs:
    text = rd(f"buildroot/configs/{c}")
    for key, val in re.findall(r'^(BR2_\w+)="([^"]*)"', text, re.M):
        for p in val.split():
            if "BR2_EXTERNAL_OJSCOG_PATH" in p:
                check(f"{c}: {key} -> {os.path.relpath(expand(p), top)} exists", os.path.exists(expand(p)))
    for sym in re.findall(r"^(BR2_PACKAGE_OJSCOG\w*)=y", text, re.M):
        check(f"{c}: {sym} is defined by the tree", sym in defined)
    arg = re.search(r'^BR2_ROOTFS_POST_SCRIPT_ARGS="([^"]+)"', text, re.M)
    board = arg.group(1) if arg else ""
    check(f"{c}: board {board or '?'} has genimage.cfg and rauc/system.conf",
          bool(board) and os.path.isfile(os.path.join(top, "board", board, "genimage.cfg")) and os.path.isfile(os.path.join(top, "board", board, "rauc", "system.conf")))
    check(f"{c}: BusyBox init, squashfs root, glibc", all(s in text for s in ("BR2_INIT_BUSYBOX=y", "BR2_TARGET_ROOTFS_SQUASHFS=y", "BR2_TOOLCHAIN_BUILDROOT_GLIBC=y")))
    blocks[c] = text[text.find("# --- ojscog common"):]
check("defconfigs share one ojscog block", len(set(blocks.values())) == 1)

# scripts
scripts = ["flash.sh", "scripts/build-aarch64.sh", "scripts/build-image.sh", "scripts/test-image.sh", "scripts/test-aarch64.sh"]
for base in ("scripts/image", "buildroot/scripts", "board/common", "tests/image", "rootfs-overlay/usr/sbin", "rootfs-overlay/usr/libexec/ojscog", "rootfs-overlay/etc/init.d", "rootfs-overlay/usr/share/udhcpc"):
    for f in sorted(os.listdir(os.path.join(top, base))):
        p = os.path.join(base, f)
        if os.path.isfile(os.path.join(top, p)) and open(os.path.join(top, p), "rb").read(2) == b"#!":
            scripts.append(p)
scripts.append("board/common/initramfs/init")
scripts += ["rootfs-overlay/usr/lib/ojscog/" + f for f in sorted(os.listdir(os.path.join(top, "rootfs-overlay/usr/lib/ojscog")))]
for s in scripts:
    p = os.path.join(top, s)
    if not os.path.exists(p):
        check(f"{s} exists", False); continue
    first = open(p).readline()
    # Sourced libraries (rootfs-overlay/usr/lib/ojscog) are not executables.
    ok_x = os.access(p, os.X_OK) or s.startswith("rootfs-overlay/usr/lib/")
    if "python" in first:
        r = subprocess.run([sys.executable, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", p], capture_output=True, text=True)
    else:
        shell = "bash" if "bash" in first else "sh"
        r = subprocess.run([shell, "-n", p], capture_output=True, text=True)
    check(f"{s}: executable, syntax ok", ok_x and r.returncode == 0, (r.stderr or "not executable").strip())

# Appliance hardening (issue 7): static properties of the boot, login, provisioning and update flow.
def rdo(p): return open(os.path.join(top, p)).read()
inittab = rdo("rootfs-overlay/etc/inittab")
check("inittab: no passwordless shell on the console (login only)",
      re.search(r"^[^#]*:(askfirst|respawn|once|wait):-?/bin/(ba)?sh\b", inittab, re.M) is None and "/bin/login" in inittab)
check("passwd: root has no empty password (x: the hash is in /run/ojscog/shadow)",
      re.search(r"^root:x:0:0:", rdo("rootfs-overlay/etc/passwd"), re.M) is not None)
check("finalize-rootfs links /etc/shadow to /run/ojscog/shadow", "ln -s /run/ojscog/shadow" in rdo("board/common/finalize-rootfs.sh"))
overlay_text = "".join(open(os.path.join(d, f), errors="replace").read() for d, _, fs in os.walk(os.path.join(top, "rootfs-overlay")) for f in fs if not os.path.islink(os.path.join(d, f)))
check("nothing leaves the admin token for the web page (no admin-token.once is written)", re.search(r">\s*\"?\S*admin-token\.once", overlay_text) is None)
for f in ("board/common/initramfs/init", "rootfs-overlay/usr/sbin/ojscog-slot", "rootfs-overlay/usr/lib/ojscog/bootstate.sh"):
    code = "\n".join(l for l in rdo(f).splitlines() if not l.lstrip().startswith("#"))
    check(f"{f}: no eval, the boot state is parsed", re.search(r"\beval\b", code) is None)
check("healthwatch parses its config (no sourcing of /data)", re.search(r"^\s*\.\s+\S*healthwatch\.conf", rdo("rootfs-overlay/usr/libexec/ojscog/healthwatch"), re.M) is None)
check("provisioning never formats without the blank check", "mke2fs -F" not in rdo("rootfs-overlay/usr/sbin/ojscog-provision-data").replace('"$MKE2FS" -q -F', ""))
check("run-service sets the fd limit and passes the read token",
      "ulimit -n 4096" in rdo("rootfs-overlay/usr/libexec/ojscog/run-service") and "OJSCOG_WEB_READ_TOKEN" in rdo("rootfs-overlay/usr/libexec/ojscog/run-service"))
for c in confs:
    text = rd(f"buildroot/configs/{c}")
    check(f"{c}: sfdisk, resizepart and resize2fs for growing /data",
          all(k in text for k in ("BR2_PACKAGE_UTIL_LINUX_BINARIES=y", "BR2_PACKAGE_UTIL_LINUX_PARTX=y", "BR2_PACKAGE_E2FSPROGS_RESIZE2FS=y")))
for b in sorted(os.listdir(os.path.join(top, "board"))):
    g = os.path.join(top, "board", b, "genimage.cfg")
    if os.path.isfile(g):
        m = re.search(r"partition data \{([^}]*)\}", open(g).read())
        check(f"{b}: the data partition carries the factory blank marker", bool(m) and 'image = "data-blank.img"' in m.group(1))
# The initramfs really contains the shared boot-state parser and the applets it uses (built with the host busybox).
bb = shutil.which("busybox")
if bb:
    tmpi = tempfile.mkdtemp()
    try:
        r = subprocess.run([os.path.join(top, "board/common/mkinitramfs.sh"), "--busybox", bb, "--out", os.path.join(tmpi, "i.gz")], capture_output=True, text=True)
        names = subprocess.run(f"zcat {tmpi}/i.gz | cpio -t --quiet", shell=True, capture_output=True, text=True).stdout.split() if r.returncode == 0 else []
        check("initramfs has lib/ojscog/bootstate.sh, sha256sum and watchdog", {"lib/ojscog/bootstate.sh", "bin/sha256sum", "bin/watchdog", "init"} <= set(names), r.stderr[-300:])
    finally:
        shutil.rmtree(tmpi, ignore_errors=True)
else:
    check("busybox on the host (to build a test initramfs)", False)

# genimage layouts, built for real on dummy inputs
want = ["boot", "bootstate", "rootA", "rootB", "data"]
ROOT_ARM64 = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
have_tools = all(shutil.which(t) for t in ("genimage", "mkfs.vfat", "mcopy", "sfdisk"))
for board in sorted(os.listdir(os.path.join(top, "board"))):
    cfgp = os.path.join(top, "board", board, "genimage.cfg")
    if not os.path.isfile(cfgp):
        continue
    if not have_tools:
        check(f"{board}: genimage tools present (genimage dosfstools mtools fdisk)", False); continue
    tmp = tempfile.mkdtemp()
    try:
        cfg = open(cfgp).read()
        inp = os.path.join(tmp, "in"); os.makedirs(inp); os.makedirs(os.path.join(tmp, "root"))
        for files in re.findall(r"files\s*=\s*\{([^}]*)\}", cfg):
            for f in re.findall(r'"([^"]+)"', files):
                p = os.path.join(inp, f)
                if f.endswith("overlays"):
                    os.makedirs(p, exist_ok=True); open(os.path.join(p, "README"), "w").write("x")
                else:
                    os.makedirs(os.path.dirname(p), exist_ok=True); open(p, "wb").write(b"\0" * 4096)
        for f in re.findall(r'image\s*=\s*"([^"]+)"', cfg):
            p = os.path.join(inp, f)
            if not os.path.exists(p) and not re.search(r'image\s+' + re.escape(f) + r'\s*\{', cfg):
                open(p, "wb").write(b"\0" * 65536)
        r = subprocess.run(["genimage", "--config", cfgp, "--inputpath", inp, "--outputpath", inp,
                            "--tmppath", os.path.join(tmp, "t"), "--rootpath", os.path.join(tmp, "root")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            check(f"{board}: genimage builds the layout", False, r.stderr[-500:]); continue
        pt = json.loads(subprocess.run(["sfdisk", "--json", os.path.join(inp, "disk.img")], capture_output=True, text=True).stdout)["partitiontable"]
        names = [p.get("name") for p in pt["partitions"]]
        check(f"{board}: GPT layout {names}", pt["label"] == "gpt" and names == want, str(names))
        types = {p.get("name"): p["type"].upper() for p in pt["partitions"]}
        check(f"{board}: root slots have the arm64 root type", types.get("rootA") == ROOT_ARM64 and types.get("rootB") == ROOT_ARM64)
        starts = [p["start"] for p in pt["partitions"]]
        check(f"{board}: partitions aligned to 1 MiB", all(s % 2048 == 0 for s in starts), str(starts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # RAUC
    sc = os.path.join(top, "board", board, "rauc", "system.conf")
    cp = configparser.ConfigParser(strict=True)
    try:
        cp.read(sc)
        okc = (cp["system"]["compatible"] == f"ojscog-{board}" and cp["system"]["bootloader"] == "custom"
               and cp["handlers"]["bootloader-custom-backend"] == "/usr/sbin/ojscog-slot")
        slots = [s for s in cp.sections() if s.startswith("slot.")]
        labels = sorted(cp[s]["device"].rsplit("/", 1)[-1] for s in slots)
        boots = sorted(cp[s]["bootname"] for s in slots)
        check(f"{board}: rauc system.conf refuses older releases (pre-install handler exists)",
              cp["handlers"].get("pre-install") == "/usr/libexec/ojscog/rauc-pre-install"
              and os.access(os.path.join(top, "rootfs-overlay/usr/libexec/ojscog/rauc-pre-install"), os.X_OK))
        check(f"{board}: rauc system.conf (compatible, custom backend, slots A/B on rootA/rootB)",
              okc and labels == ["rootA", "rootB"] and boots == ["A", "B"], f"{labels} {boots}")
    except Exception as e:
        check(f"{board}: rauc system.conf parses", False, str(e))

print(f"tree: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
