#!/usr/bin/env python3
"""Static checks of the image sources: the Buildroot external tree buildroot/ (board/, rootfs-overlay/, scripts/,
package/, configs/) and the scripts that use it.

Buildroot cannot download sources on CI machines, so the tree is checked without building:
  - external.desc names the tree; external.mk includes every package .mk;
  - every `source` in a Config.in exists, and every package directory is sourced;
  - every package has <name>.mk, Config.in and <name>.hash; each .mk ends in an $(eval $(...-package)) and the
    service uses the cargo infrastructure; each Config.in symbol the defconfigs select from the tree is defined;
  - the tree is self-contained: no $(BR2_EXTERNAL_OJSCOG_PATH)/.. anywhere in it (the one exception: OJSCOG_SITE,
    the service's source, which is the repository around the tree), every $(BR2_EXTERNAL_OJSCOG_PATH) path of a
    defconfig exists inside the tree, and the tree's build scripts name no file outside it; the top-level board/ and
    rootfs-overlay/ are only links into it;
  - the three defconfigs share the same ojscog block (the part after "# --- ojscog common"), each names a board
    that has a meta (RAUC_COMPATIBLE, BOOT_FILES, DEFCONFIG), every board has a meta and a defconfig, and every
    file a defconfig's comments cite exists;
  - one layout and one RAUC configuration: no per-board genimage.cfg or system.conf, and scripts/build-image.sh
    (the qemu image without Buildroot) uses the same renderer, overlay and image scripts as the post scripts;
  - every script is executable and passes `bash -n` / `sh -n`;
  - every board's layout really builds (buildroot/scripts/board.sh BOARD genimage, on dummy inputs) into the GPT
    layout boot, bootstate, rootA, rootB, data, with rootA/rootB of the arm64 root type;
  - each board's rendered RAUC system.conf parses, uses the custom backend, and names slots whose partitions the
    layout has.
Prints "ok"/"FAIL" lines and "tree: N passed, M failed"; exit 1 on failure.
"""
import configparser, json, os, re, shutil, subprocess, sys, tempfile

top = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ext = os.path.join(top, "buildroot")
boards_dir = os.path.join(ext, "board")
board_sh = os.path.join(ext, "scripts", "board.sh")
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

# The tree is self-contained: nothing in it reaches out through $(BR2_EXTERNAL_OJSCOG_PATH)/.. (in any spelling),
# except the ojscog package's source, which is the repository itself.
ESCAPE = re.compile(r"\$(\(BR2_EXTERNAL_OJSCOG_PATH\)|\{BR2_EXTERNAL_OJSCOG_PATH\}|BR2_EXTERNAL_OJSCOG_PATH\b)/+\.\.")
ALLOWED_ESCAPES = {("package/ojscog/ojscog.mk", "OJSCOG_SITE = $(BR2_EXTERNAL_OJSCOG_PATH)/..")}
escapes = []
for d, _, fs in os.walk(ext):
    for f in fs:
        p = os.path.join(d, f)
        if os.path.islink(p):
            continue
        try:
            text = open(p, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if ESCAPE.search(line) and (os.path.relpath(p, ext), line.strip()) not in ALLOWED_ESCAPES:
                escapes.append(f"buildroot/{os.path.relpath(p, ext)}:{n}: {line.strip()}")
check("no $(BR2_EXTERNAL_OJSCOG_PATH)/.. in the external tree (only the ojscog package's OJSCOG_SITE)", not escapes, "; ".join(escapes))

def inside(p, root=ext):
    r = os.path.realpath(p)
    return r == os.path.realpath(root) or r.startswith(os.path.realpath(root) + os.sep)

for name in ("board", "rootfs-overlay"):
    l = os.path.join(top, name)
    check(f"top-level {name}/ is a relative link to buildroot/{name}",
          os.path.islink(l) and os.readlink(l) == f"buildroot/{name}" and os.path.isdir(l))

# The tree's build scripts name files of the tree only: every "$ext/...", "$here/...", "$(dirname "$0")/..." path
# resolves inside it, and none uses "$ext/.." or a top of the repository.
REF = re.compile(r'"?\$(?:\{?(ext|here)\}?|\(dirname "\$0"\)|\(dirname "\$\{BASH_SOURCE\[0\]\}"\))/([\w./@-]*)')
tree_scripts = []
for sub in ("scripts", "board"):
    for d, _, fs in os.walk(os.path.join(ext, sub)):
        for f in fs:
            p = os.path.join(d, f)
            if open(p, "rb").read(2) == b"#!" or f.endswith(".sh"):
                tree_scripts.append(p)
for p in sorted(tree_scripts):
    rel = os.path.relpath(p, top)
    text = open(p).read()
    bad = []
    for var, path in REF.findall(text):
        base = ext if var == "ext" else os.path.dirname(p)
        target = os.path.normpath(os.path.join(base, path))
        if not inside(target) or not os.path.exists(target):
            bad.append(f"${var or 'dirname'}/{path}")
    if re.search(r"^\s*top=", text, re.M):
        bad.append("top=")
    check(f"{rel}: names only files of the external tree", not bad, ", ".join(bad))

# Board metas (buildroot/board/<board>/meta): KEY=VALUE lines, as buildroot/scripts/board.sh reads them.
def meta(board):
    m = {}
    for line in open(os.path.join(boards_dir, board, "meta")):
        k = re.match(r'^([A-Z_]+)=(.*)$', line.rstrip("\n"))
        if k:
            m[k.group(1)] = k.group(2).strip('"')
    return m
boards = sorted(b for b in os.listdir(boards_dir) if os.path.isdir(os.path.join(boards_dir, b)) and b != "common")
check("boards qemu-aarch64-virt, raspberrypi4-64, raspberrypi5-64", {"qemu-aarch64-virt", "raspberrypi4-64", "raspberrypi5-64"} <= set(boards), str(boards))
metas = {}
for b in boards:
    ok = os.path.isfile(os.path.join(boards_dir, b, "meta"))
    m = meta(b) if ok else {}
    metas[b] = m
    check(f"{b}: meta with RAUC_COMPATIBLE=ojscog-{b}, BOOT_FILES, DEFCONFIG",
          ok and m.get("RAUC_COMPATIBLE") == f"ojscog-{b}" and bool(m.get("BOOT_FILES")) and bool(m.get("DEFCONFIG")), str(m))
    check(f"{b}: cmdline.txt", os.path.isfile(os.path.join(boards_dir, b, "cmdline.txt")))
    copies = [os.path.relpath(os.path.join(d, f), ext) for d, _, fs in os.walk(os.path.join(boards_dir, b)) for f in fs
              if f in ("genimage.cfg", "system.conf")]
    check(f"{b}: no copy of the layout or the RAUC config (rendered from board/common and the meta)", not copies, str(copies))
check("one layout and one RAUC template: board/common/genimage.cfg includes boot.cfg, boot.cfg.in, rauc/system.conf.in",
      'include("boot.cfg")' in rd("buildroot/board/common/genimage.cfg") and "@BOOT_FILES@" in rd("buildroot/board/common/boot.cfg.in")
      and "compatible=@RAUC_COMPATIBLE@" in rd("buildroot/board/common/rauc/system.conf.in"))

# defconfigs
confs = sorted(f for f in os.listdir(os.path.join(ext, "configs")) if f.endswith("_defconfig"))
check("defconfigs for rpi4, rpi5 and qemu virt", {"ojscog_rpi4_64_defconfig", "ojscog_rpi5_64_defconfig", "ojscog_qemu_aarch64_virt_defconfig"} <= set(confs), str(confs))
blocks = {}
conf_board = {}
for c in confs:
    text = rd(f"buildroot/configs/{c}")
    for key, val in re.findall(r'^(BR2_\w+)="([^"]*)"', text, re.M):
        for p in val.split():
            if "BR2_EXTERNAL_OJSCOG_PATH" in p:
                check(f"{c}: {key} -> {os.path.relpath(expand(p), top)} exists in the external tree",
                      os.path.exists(expand(p)) and inside(expand(p)))
    for sym in re.findall(r"^(BR2_PACKAGE_OJSCOG\w*)=y", text, re.M):
        check(f"{c}: {sym} is defined by the tree", sym in defined)
    cited = sorted(set(re.findall(r"(?<![\w/.$)-])((?:tests|scripts|buildroot)/[\w./-]*\w)", "\n".join(l for l in text.splitlines() if l.startswith("#")))))
    missing = [f for f in cited if not os.path.exists(os.path.join(top, f))]
    check(f"{c}: the files its comments cite exist ({', '.join(cited) or 'none'})", not missing, str(missing))
    arg = re.search(r'^BR2_ROOTFS_POST_SCRIPT_ARGS="([^"]+)"', text, re.M)
    board = arg.group(1) if arg else ""
    conf_board[c] = board
    check(f"{c}: board {board or '?'} has a meta that names this defconfig", board in metas and metas[board].get("DEFCONFIG") == c)
    check(f"{c}: BusyBox init, squashfs root, glibc", all(s in text for s in ("BR2_INIT_BUSYBOX=y", "BR2_TARGET_ROOTFS_SQUASHFS=y", "BR2_TOOLCHAIN_BUILDROOT_GLIBC=y")))
    i = text.find("# --- ojscog common")
    blocks[c] = text[i:] if i >= 0 else None
check("defconfigs share one ojscog block (# --- ojscog common ... to the end, identical)",
      None not in blocks.values() and len(set(blocks.values())) == 1)
check("every board has a defconfig", all(b in conf_board.values() for b in boards), f"{boards} {conf_board}")

# The qemu image built without Buildroot takes the same files as the Buildroot post scripts.
bi, post = rd("scripts/build-image.sh"), rd("buildroot/scripts/post-build.sh") + rd("buildroot/scripts/post-image.sh")
shared = ['board.sh" "$board" genimage', 'board.sh" "$board" get RAUC_COMPATIBLE', "board/common/finalize-rootfs.sh",
          "board/common/mkinitramfs.sh", "board/common/mkbootstate.sh", "scripts/mkbundle.sh", "scripts/keys.sh"]
check("scripts/build-image.sh and the Buildroot post scripts use the same renderer and image scripts",
      all(k in bi and k in post for k in shared), str([k for k in shared if k not in bi or k not in post]))
check("scripts/build-image.sh takes the overlay and board files from buildroot/ (ext=buildroot)",
      re.search(r"^ext=buildroot\b", bi, re.M) is not None and 'cp -a "$ext/rootfs-overlay/."' in bi
      and re.search(r'(?<![\w/$])(board|rootfs-overlay)/', "\n".join(l for l in bi.splitlines() if not l.lstrip().startswith("#"))) is None)

# scripts
scripts = ["flash.sh", "scripts/build-aarch64.sh", "scripts/build-image.sh", "scripts/test-image.sh", "scripts/test-aarch64.sh"]
for base in ("scripts/image", "buildroot/scripts", "buildroot/board/common", "tests/image", "buildroot/rootfs-overlay/usr/sbin",
             "buildroot/rootfs-overlay/usr/libexec/ojscog", "buildroot/rootfs-overlay/etc/init.d", "buildroot/rootfs-overlay/usr/share/udhcpc"):
    for f in sorted(os.listdir(os.path.join(top, base))):
        p = os.path.join(base, f)
        if os.path.isfile(os.path.join(top, p)) and open(os.path.join(top, p), "rb").read(2) == b"#!":
            scripts.append(p)
scripts.append("buildroot/board/common/initramfs/init")
scripts += ["buildroot/rootfs-overlay/usr/lib/ojscog/" + f for f in sorted(os.listdir(os.path.join(top, "buildroot/rootfs-overlay/usr/lib/ojscog")))]
for s in scripts:
    p = os.path.join(top, s)
    if not os.path.exists(p):
        check(f"{s} exists", False); continue
    first = open(p).readline()
    # Sourced libraries (buildroot/rootfs-overlay/usr/lib/ojscog) are not executables.
    ok_x = os.access(p, os.X_OK) or s.startswith("buildroot/rootfs-overlay/usr/lib/")
    if "python" in first:
        r = subprocess.run([sys.executable, "-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", p], capture_output=True, text=True)
    else:
        shell = "bash" if "bash" in first else "sh"
        r = subprocess.run([shell, "-n", p], capture_output=True, text=True)
    check(f"{s}: executable, syntax ok", ok_x and r.returncode == 0, (r.stderr or "not executable").strip())

# Appliance hardening (issue 7): static properties of the boot, login, provisioning and update flow.
def rdo(p): return open(os.path.join(top, p)).read()
inittab = rdo("buildroot/rootfs-overlay/etc/inittab")
check("inittab: no passwordless shell on the console (login only)",
      re.search(r"^[^#]*:(askfirst|respawn|once|wait):-?/bin/(ba)?sh\b", inittab, re.M) is None and "/bin/login" in inittab)
check("passwd: root has no empty password (x: the hash is in /run/ojscog/shadow)",
      re.search(r"^root:x:0:0:", rdo("buildroot/rootfs-overlay/etc/passwd"), re.M) is not None)
check("finalize-rootfs links /etc/shadow to /run/ojscog/shadow", "ln -s /run/ojscog/shadow" in rdo("buildroot/board/common/finalize-rootfs.sh"))
overlay_text = "".join(open(os.path.join(d, f), errors="replace").read() for d, _, fs in os.walk(os.path.join(ext, "rootfs-overlay")) for f in fs if not os.path.islink(os.path.join(d, f)))
check("nothing leaves the admin token for the web page (no admin-token.once is written)", re.search(r">\s*\"?\S*admin-token\.once", overlay_text) is None)
for f in ("buildroot/board/common/initramfs/init", "buildroot/rootfs-overlay/usr/sbin/ojscog-slot", "buildroot/rootfs-overlay/usr/lib/ojscog/bootstate.sh"):
    code = "\n".join(l for l in rdo(f).splitlines() if not l.lstrip().startswith("#"))
    check(f"{f}: no eval, the boot state is parsed", re.search(r"\beval\b", code) is None)
check("healthwatch parses its config (no sourcing of /data)", re.search(r"^\s*\.\s+\S*healthwatch\.conf", rdo("buildroot/rootfs-overlay/usr/libexec/ojscog/healthwatch"), re.M) is None)
check("provisioning never formats without the blank check", "mke2fs -F" not in rdo("buildroot/rootfs-overlay/usr/sbin/ojscog-provision-data").replace('"$MKE2FS" -q -F', ""))
check("run-service sets the fd limit and passes the read token",
      "ulimit -n 4096" in rdo("buildroot/rootfs-overlay/usr/libexec/ojscog/run-service") and "OJSCOG_WEB_READ_TOKEN" in rdo("buildroot/rootfs-overlay/usr/libexec/ojscog/run-service"))
for c in confs:
    text = rd(f"buildroot/configs/{c}")
    check(f"{c}: sfdisk, resizepart and resize2fs for growing /data",
          all(k in text for k in ("BR2_PACKAGE_UTIL_LINUX_BINARIES=y", "BR2_PACKAGE_UTIL_LINUX_PARTX=y", "BR2_PACKAGE_E2FSPROGS_RESIZE2FS=y")))
m = re.search(r"partition data \{([^}]*)\}", rd("buildroot/board/common/genimage.cfg"))
check("the data partition carries the factory blank marker (board/common/genimage.cfg)", bool(m) and 'image = "data-blank.img"' in m.group(1))
# The initramfs really contains the shared boot-state parser and the applets it uses (built with the host busybox).
bb = shutil.which("busybox")
if bb:
    tmpi = tempfile.mkdtemp()
    try:
        r = subprocess.run([os.path.join(ext, "board/common/mkinitramfs.sh"), "--busybox", bb, "--out", os.path.join(tmpi, "i.gz")], capture_output=True, text=True)
        names = subprocess.run(f"zcat {tmpi}/i.gz | cpio -t --quiet", shell=True, capture_output=True, text=True).stdout.split() if r.returncode == 0 else []
        check("initramfs has lib/ojscog/bootstate.sh, sha256sum and watchdog", {"lib/ojscog/bootstate.sh", "bin/sha256sum", "bin/watchdog", "init"} <= set(names), r.stderr[-300:])
    finally:
        shutil.rmtree(tmpi, ignore_errors=True)
else:
    check("busybox on the host (to build a test initramfs)", False)

# genimage layouts, built for real on dummy inputs (board.sh renders the board's boot.cfg from its meta)
want = ["boot", "bootstate", "rootA", "rootB", "data"]
ROOT_ARM64 = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE"
have_tools = all(shutil.which(t) for t in ("genimage", "mkfs.vfat", "mcopy", "sfdisk"))
for board in boards:
    if not metas.get(board):
        continue
    if not have_tools:
        check(f"{board}: genimage tools present (genimage dosfstools mtools fdisk)", False); continue
    tmp = tempfile.mkdtemp()
    try:
        inp = os.path.join(tmp, "in"); os.makedirs(inp); os.makedirs(os.path.join(tmp, "root"))
        for f in metas[board]["BOOT_FILES"].split():
            p = os.path.join(inp, f)
            if f.endswith("overlays"):
                os.makedirs(p, exist_ok=True); open(os.path.join(p, "README"), "w").write("x")
            else:
                os.makedirs(os.path.dirname(p), exist_ok=True); open(p, "wb").write(b"\0" * 4096)
        for f in ("bootstate.img", "rootfs.squashfs", "data-blank.img"):
            open(os.path.join(inp, f), "wb").write(b"\0" * 65536)
        r = subprocess.run([board_sh, board, "genimage", "--inputpath", inp, "--outputpath", inp,
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
        boot = subprocess.run(["mdir", "-/", "-b", "-i", os.path.join(inp, "boot.vfat")], capture_output=True, text=True).stdout.split()
        want_boot = sorted("::/" + os.path.basename(f) for f in metas[board]["BOOT_FILES"].split())  # vfat files land at the top
        check(f"{board}: the boot partition holds the meta's BOOT_FILES", all(any(b == w or b.startswith(w + "/") for b in boot) for w in want_boot), str(boot))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    # RAUC: the board's system.conf, rendered from the template and the meta
    tmp = tempfile.mkdtemp()
    try:
        sc = os.path.join(tmp, "system.conf")
        r = subprocess.run([board_sh, board, "system.conf", sc], capture_output=True, text=True)
        cp = configparser.ConfigParser(strict=True)
        cp.read_string(open(sc).read() if r.returncode == 0 else "")
        okc = (cp["system"]["compatible"] == f"ojscog-{board}" and cp["system"]["bootloader"] == "custom"
               and cp["handlers"]["bootloader-custom-backend"] == "/usr/sbin/ojscog-slot")
        slots = [s for s in cp.sections() if s.startswith("slot.")]
        labels = sorted(cp[s]["device"].rsplit("/", 1)[-1] for s in slots)
        boots = sorted(cp[s]["bootname"] for s in slots)
        check(f"{board}: rauc system.conf refuses older releases (pre-install handler exists)",
              cp["handlers"].get("pre-install") == "/usr/libexec/ojscog/rauc-pre-install"
              and os.access(os.path.join(ext, "rootfs-overlay/usr/libexec/ojscog/rauc-pre-install"), os.X_OK))
        check(f"{board}: rauc system.conf (compatible, custom backend, slots A/B on rootA/rootB)",
              okc and labels == ["rootA", "rootB"] and boots == ["A", "B"], f"{labels} {boots}")
    except Exception as e:
        check(f"{board}: rauc system.conf renders and parses", False, str(e) or r.stderr[-300:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

print(f"tree: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
