#!/usr/bin/env python3
"""Boot test of the ojscog qemu image (called by scripts/test-image.sh).

Boots disk.img under qemu-system-aarch64 (virt, cortex-a53, 2 CPUs, 1 GiB; TCG), with the service's port forwarded
to 127.0.0.1 only (user networking with restrict=on: the guest reaches nothing else) and the serial console on a
unix socket. Checks, in order:
  1. first boot on a disk 512 MiB larger than the image: /health answers (boot-to-ready measured from qemu start), the
     console asks for a password (no passwordless shell) and the one printed at provisioning logs in, root is
     read-only squashfs, /data is a writable ext4 formatted on first boot and grown to the disk, the admin and read
     tokens are shown on the console only (nothing left for the web page), the watchdog is handed from the initramfs
     to the service itself after its first healthy answer, /run/ojscog/slots.json exists; a marker file is written to /data; reboot (from inside);
  2. second boot: ready again, the marker and the store are kept, no new token or password; then the service (and
     healthwatch) are stopped with SIGSTOP: the watchdog the service pets resets the board, which boots and serves again;
  3. OTA: the signed RAUC bundle (a different release) is installed from a second disk into slot B by ojscog-update;
     reboot: slot B runs the new release, is marked good, /data kept;
  4. fallback: a bundle whose service never starts is installed into slot A with one try; it boots, healthwatch gives
     up after BOOT_GRACE, marks it bad and reboots; the boot counter falls back to slot B, which serves again;
  5. watchdog: a bundle that hangs before its health watcher starts (rcS never returns) is installed into slot A with
     one try and booted with ojscog.boot_watchdog=15 ojscog.watchdog_timeout=10: the watchdog armed by the initramfs
     resets the machine, and the boot counter falls back to slot B.
Prints one line per check and a JSON summary (also written to --report).
"""
import argparse, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

class Guest:
    def __init__(self, args, work, disk, extra_disk=None, name="boot", append="", channel_port=None):
        self.args, self.work, self.name = args, work, name
        self.port = free_port()
        self.sock = os.path.join(work, f"{name}.sock")
        self.mon = os.path.join(work, f"{name}.mon")
        self.log = os.path.join(work, f"{name}.console.log")
        self.buf = b""
        self.lock = threading.Lock()
        cmd = [
            "qemu-system-aarch64", "-M", "virt", "-cpu", args.cpu, "-smp", "2", "-m", "1024",
            "-nographic", "-no-reboot", "-monitor", f"unix:{self.mon},server=on,wait=off",
            "-kernel", os.path.join(args.image_dir, "Image"),
            "-initrd", os.path.join(args.image_dir, "initrd.img"),
            "-append", (open(args.cmdline).read().strip() + " " + append).strip(),
            "-drive", f"if=none,file={disk},format=raw,id=d0", "-device", "virtio-blk-device,drive=d0",
            "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:8080"
                       # cmd: a socat per guest connection (a tcp: chardev is one connection, made at start).
                       + (f",guestfwd=tcp:10.0.2.100:8000-cmd:socat - TCP:127.0.0.1:{channel_port}" if channel_port else ""),
            "-device", "virtio-net-device,netdev=n0",
            "-chardev", f"socket,id=c0,path={self.sock},server=on,wait=off,logfile={self.log}",
            "-serial", "chardev:c0",
        ]
        if extra_disk:
            cmd += ["-drive", f"if=none,file={extra_disk},format=raw,id=d1,readonly=on",
                    "-device", "virtio-blk-device,drive=d1"]
        for f in (self.sock, self.log, self.mon):
            if os.path.exists(f):
                os.unlink(f)
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, f"{name}.qemu.log"), "wb"),
                                     stderr=subprocess.STDOUT)
        for i in range(200):
            try:
                self.conn = socket.socket(socket.AF_UNIX)
                self.conn.connect(self.sock)
                break
            except OSError:
                self.conn.close()
                if i == 199 or self.proc.poll() is not None:
                    self.kill()
                    raise AssertionError(f"{name}: cannot connect to the qemu console socket")
                time.sleep(0.05)
        threading.Thread(target=self._reader, daemon=True).start()
        self.cmd_no = 0

    def _reader(self):
        while True:
            try:
                d = self.conn.recv(65536)
            except OSError:
                return
            if not d:
                return
            with self.lock:
                self.buf += d

    def text(self):
        with self.lock:
            return self.buf.decode("utf-8", "replace")

    def wait_console(self, pattern, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: console never showed {pattern!r}; tail:\n{self.text()[-3000:]}")

    def wait_ready(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name}: qemu exited before the service was ready; console:\n{self.text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=3) as r:
                    body = json.loads(r.read())
                    return time.monotonic() - self.t0, body
            except Exception:
                time.sleep(0.5)
        raise AssertionError(f"{self.name}: /health did not answer within {timeout} s; console:\n{self.text()[-3000:]}")

    def login(self):
        """Enter, then root's console password (printed once at provisioning); returns the text before the password."""
        self.wait_console(r"Please press Enter to activate this console", 120)
        start = len(self.text())
        self.conn.sendall(b"\n")
        end = time.monotonic() + 60
        # "<host> login:" at the start of a line; the service's own console
        # message ("ready after …") may follow on the same line.
        while not re.search(r"^\S+ login:", self.text()[start:], re.M):
            if time.monotonic() > end:
                raise AssertionError(f"{self.name}: no login prompt after Enter; tail:\n{self.text()[-2000:]}")
            time.sleep(0.2)
        prompt = self.text()[start:]
        self.conn.sendall(b"root\n")
        self.wait_console(r"Password: ?$|Password:", 30)
        if not ROOT_PASSWORD:
            raise AssertionError(f"{self.name}: no root password was printed at provisioning")
        self.conn.sendall(ROOT_PASSWORD.encode() + b"\n")
        time.sleep(1.5)
        return prompt

    def sh(self, command, timeout=60, check=True):
        """Runs a command on the serial console shell (after logging in), returns (status, output)."""
        if self.cmd_no == 0:
            self.login_prompt = self.login()
            self.conn.sendall(b"stty -echo 2>/dev/null; export PS1=''\n")
            time.sleep(0.5)
        self.cmd_no += 1
        n = self.cmd_no
        start = len(self.text())
        self.conn.sendall(f"echo @@B{n}@@; ( {command} ) 2>&1; echo @@E{n}@@$?\n".encode())
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            t = self.text()[start:]
            m = re.search(rf"@@B{n}@@\r?\n(.*?)@@E{n}@@(\d+)", t, re.S)
            if m:
                out, rc = m.group(1).replace("\r", ""), int(m.group(2))
                if check and rc != 0:
                    raise AssertionError(f"{self.name}: `{command}` exited {rc}: {out}")
                return rc, out
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: `{command}` did not finish in {timeout} s; tail:\n{self.text()[-2000:]}")

    def monitor(self, command):
        """One command to qemu's human monitor (e.g. system_powerdown: presses the virt board's power button, wired to
        line 3 of its PL061 GPIO chip); returns what the monitor printed."""
        m = socket.socket(socket.AF_UNIX)
        m.settimeout(5)
        m.connect(self.mon)
        out = b""
        try:
            out += m.recv(4096)
            m.sendall(command.encode() + b"\n")
            time.sleep(0.5)
            out += m.recv(4096)
        except socket.timeout:
            pass
        finally:
            m.close()
        return out.decode(errors="replace")

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name}: the guest did not power off within {timeout} s; tail:\n{self.text()[-2000:]}")
        self.conn.close()

    def reboot(self, timeout=60):
        self.conn.sendall(b"reboot\n")
        self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

results, failures = {}, []
ROOT_PASSWORD = None
def check(name, cond, detail=""):
    print(f"{'ok  ' if cond else 'FAIL'} {name}{(': ' + detail) if detail else ''}", flush=True)
    if not cond:
        failures.append(name)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image-dir", required=True)
    ap.add_argument("--cmdline", required=True)
    ap.add_argument("--ota-bundle")
    ap.add_argument("--broken-bundle")
    ap.add_argument("--hang-bundle")
    ap.add_argument("--ota-version")
    ap.add_argument("--channel-dir", help="a signed update channel holding the OTA bundle (ojscog release index)")
    ap.add_argument("--channel-key", help="the channel's public key (the one baked into the image)")
    ap.add_argument("--voice-dir", help="speech models (models/) and a spoken command (command.wav) for `ojscog voice`")
    ap.add_argument("--work", default=None)
    ap.add_argument("--cpu", default="cortex-a53")
    ap.add_argument("--report")
    ap.add_argument("--ready-timeout", type=int, default=180)
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="ojscog-boot-")
    os.makedirs(work, exist_ok=True)
    disk = os.path.join(work, "disk.img")
    subprocess.run(["cp", "--sparse=always", os.path.join(args.image_dir, "disk.img"), disk], check=True)
    # A card larger than the image: /data must grow to it on first boot.
    image_bytes = os.path.getsize(disk)
    os.truncate(disk, image_bytes + (512 << 20))
    global ROOT_PASSWORD
    release = open(os.path.join(args.image_dir, "release")).read()
    version = re.search(r'VERSION="([^"]*)"', release).group(1)
    g = None
    try:
        # 1. first boot
        g = Guest(args, work, disk, name="boot1")
        t, health = g.wait_ready(args.ready_timeout)
        results["first_boot_to_ready_s"] = round(t, 1)
        check("first boot: /health answers", health.get("status") in ("ok", "degraded"), f"{t:.1f} s after qemu start, status {health.get('status')}")
        m = g.wait_console(r"Admin token: *([0-9a-f]{48})", 10)
        token = m.group(1)
        read_token = g.wait_console(r"Read token: *([0-9a-f]{48})", 10).group(1)
        ROOT_PASSWORD = g.wait_console(r"Console login: root / ([0-9a-f]{20})", 10).group(1)
        check("first boot: admin and read tokens and the root password shown on the console", token != read_token)
        m = g.wait_console(r"ojscog: ready after ([\d.]+) s", 60)
        results["first_boot_uptime_to_ready_s"] = float(m.group(1))
        _, mounts = g.sh("cat /proc/mounts")
        check("the console asks for a login, not a passwordless shell", "login:" in g.login_prompt, g.login_prompt.strip()[-200:])
        root = [l for l in mounts.splitlines() if l.split()[1:2] == ["/"]]
        check("root is a read-only squashfs", bool(root) and root[-1].split()[2] == "squashfs" and root[-1].split()[3].startswith("ro"), root[-1] if root else mounts)
        rc, out = g.sh("touch /usr/bin/x", check=False)
        check("writing the root fails", rc != 0 and "Read-only" in out, out.strip())
        data = [l for l in mounts.splitlines() if l.split()[1:2] == ["/data"]]
        check("/data is a writable ext4", bool(data) and data[0].split()[2] == "ext4" and data[0].split()[3].startswith("rw"), data[0] if data else "")
        _, out = g.sh("ls /data/ojscog/admin-token.once 2>&1; cat /data/etc/admin-token /data/etc/read-token; ls -ln /data/etc/admin-token /data/etc/read-token")
        check("tokens kept root:ojscog 0640, nothing left for the web page", "No such file" in out and token in out and read_token in out
              and len(re.findall(r"-rw-r-----\s+1\s+0\s+1000\s", out)) == 2, out.strip())
        _, out = g.sh("tr '\\0' ' ' < /proc/$(cat /run/ojscog/service.pid)/environ")
        check("the service gets both tokens", f"OJSCOG_WEB_ADMIN_TOKEN={token}" in out and f"OJSCOG_WEB_READ_TOKEN={read_token}" in out)
        _, out = g.sh("grep 'Max open files' /proc/$(cat /run/ojscog/service.pid)/limits")
        check("the service runs with 4096 file descriptors", "4096" in out, out.strip())
        _, out = g.sh("df -k /data | tail -1")
        size_kib = int(out.split()[1]) if len(out.split()) > 1 and out.split()[1].isdigit() else 0
        check("/data grew to the disk (image 256 MiB data + 512 MiB more)", size_kib > 600 * 1024, out.strip())
        _, out = g.sh("for i in $(seq 1 20); do ls -l /proc/$(cat /run/ojscog/service.pid)/fd | grep -q ' /dev/watchdog$' && break; sleep 1; done; "
                      "ls /run/ojscog/boot-watchdog 2>&1; ls -l /proc/$(cat /run/ojscog/service.pid)/fd | grep -c ' /dev/watchdog$'; "
                      "ls /run/ojscog/watchdog.pid 2>&1; logread | grep -c 'petting the hardware watchdog'")
        lines = out.strip().splitlines()
        check("the watchdog went from the initramfs's daemon to the service itself (no daemon left)",
              len(lines) >= 4 and "No such file" in lines[0] and lines[1].strip() == "1" and "No such file" in lines[2] and lines[3].strip() != "0",
              out.strip().replace("\n", " | "))
        _, out = g.sh("ps | grep -v grep | grep '/usr/bin/ojscog'; cat /proc/$(cat /run/ojscog/service.pid)/status | grep -E '^Uid'")
        check("service runs as user ojscog (uid 1000)", "\t1000\t" in out, out.strip())
        _, slots = g.sh("cat /run/ojscog/slots.json")
        sj = json.loads(slots.strip())
        check("slots.json: booted A, marked good", sj["booted"] == "A" and sj["slots"]["A"]["state"] == "good", slots.strip())
        _, out = g.sh("ls /data/ojscog/; echo kept-$$ > /data/boot-test-marker; sync; cat /data/boot-test-marker")
        marker = out.strip().splitlines()[-1]
        check("store created on /data", "ojscog.sqlite3" in out, out.strip().replace("\n", " "))
        _, out = g.sh("logread | tail -n 3")
        check("logs in the RAM buffer (logread)", "ojscog" in out or "healthwatch" in out, out.strip()[-200:])
        g.reboot()

        # 2. second boot
        g = Guest(args, work, disk, name="boot2")
        t, health = g.wait_ready(args.ready_timeout)
        results["boot_to_ready_s"] = round(t, 1)
        m = g.wait_console(r"ojscog: ready after ([\d.]+) s", 60)
        results["uptime_to_ready_s"] = float(m.group(1))
        check("reboot: /health answers", True, f"{t:.1f} s after qemu start, {m.group(1)} s after the kernel started")
        _, out = g.sh("cat /data/boot-test-marker; ls /data/ojscog")
        check("reboot: /data kept", marker in out and "ojscog.sqlite3" in out, out.strip().replace("\n", " "))
        check("reboot: no token or password is shown again", "Admin token" not in g.text() and "Console login" not in g.text())
        # 2b. a hung service resets the board: the service pets the watchdog only while it answers its own /health.
        #     healthwatch is stopped too, so that only the watchdog can act (it would restart the service later).
        g.sh("for p in /proc/[0-9]*; do grep -q libexec/ojscog/healthwatch $p/cmdline 2>/dev/null && kill -STOP ${p#/proc/}; done; "
             "kill -STOP $(cat /run/ojscog/service.pid)", check=False)
        t0 = time.monotonic()
        g.wait_exit(240)
        results["hung_service_reset_s"] = round(time.monotonic() - t0, 1)
        check("watchdog: a hung service reset the board", True, f"{results['hung_service_reset_s']} s after the service was stopped")
        g = Guest(args, work, disk, name="boot2b")
        g.wait_ready(args.ready_timeout)
        _, out = g.sh("cat /run/ojscog/booted-slot; cat /data/boot-test-marker; sleep 1; cat /run/ojscog/slots.json")
        sj = json.loads(out.strip().splitlines()[-1])
        check("watchdog: after the reset the same slot serves again, /data kept", out.startswith("A") and marker in out and sj["slots"]["A"]["state"] == "good", out.strip().replace("\n", " | "))
        if args.ota_bundle:
            # 3. OTA into slot B from a second disk (like a USB stick)
            g.reboot()
            upd = os.path.join(work, "update.img")
            d = os.path.join(work, "update")
            shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
            shutil.copy(args.ota_bundle, os.path.join(d, "ota.raucb"))
            if args.broken_bundle:
                shutil.copy(args.broken_bundle, os.path.join(d, "broken.raucb"))
            if args.hang_bundle:
                shutil.copy(args.hang_bundle, os.path.join(d, "hang.raucb"))
            if args.voice_dir:
                shutil.copytree(args.voice_dir, os.path.join(d, "voice"), symlinks=True)
            size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs) // (1 << 20) + 32
            subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "update", "-d", d, upd, f"{size}M"], check=True)
            # The OTA comes from the signed channel through a forwarded port (guest 10.0.2.100:8000 -> a host server).
            server, cport = None, None
            if args.channel_dir:
                cport = free_port()
                server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", str(cport)], cwd=args.channel_dir,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            g = Guest(args, work, disk, extra_disk=upd, name="boot3", channel_port=cport)
            g.wait_ready(args.ready_timeout)
            g.sh("mount -o ro $(findfs LABEL=update) /mnt; ls /mnt")
            if args.voice_dir:
                # A spoken command through the image's own binary and libraries (sherpa-onnx from /usr/lib/ojscog/sherpa),
                # the models read where they lie (verified against their manifests); no spoken answer (no speaker).
                t0 = time.monotonic()
                rc, out = g.sh("mkdir -p /tmp/voice; OJSCOG_DATA_DIR=/tmp/voice OJSCOG_TEST_MODELS=/mnt/voice/models "
                               "OJSCOG_VOICE_SPEAK=false ojscog voice --demo --json /mnt/voice/command.wav 2>/tmp/voice/err; "
                               "echo rc=$?; tail -c 600 /tmp/voice/err", timeout=900, check=False)
                results["voice_command_s"] = round(time.monotonic() - t0, 1)
                m = re.search(r'"intent": "([a-z_]+)"', out)
                check("voice: `ojscog voice` in the image hears the spoken command (overdue)",
                      "rc=0" in out and m is not None and m.group(1) == "overdue", out.strip().replace("\n", " | ")[-700:])
                # Figure checks in the image: NCNN (libncnn in /usr/lib/ojscog) and pdfium (aarch64, from the store on the
                # update disk) on a drawn manuscript page with a figure and a table.
                t0 = time.monotonic()
                rc, out = g.sh("mkdir -p /tmp/vis; OJSCOG_DATA_DIR=/tmp/vis OJSCOG_TEST_MODELS=/mnt/voice/models "
                               "ojscog check-files --json /mnt/voice/page.pdf 2>/tmp/vis/err; echo rc=$?; tail -c 400 /tmp/vis/err",
                               timeout=900, check=False)
                results["check_files_s"] = round(time.monotonic() - t0, 1)
                try:
                    body = out[:out.index("rc=")]
                    rep = json.loads(body[body.index("["):body.rindex("]") + 1])[0]
                    figs, tabs = sum(len(p["figures"]) for p in rep["pages"]), sum(len(p["tables"]) for p in rep["pages"])
                except (ValueError, KeyError, IndexError):
                    rep, figs, tabs = None, 0, 0
                check("vision: `ojscog check-files` in the image finds the drawn page's figure and table",
                      "rc=0" in out and rep is not None and figs >= 1 and tabs >= 1 and rep["models"].startswith("ncnn"),
                      (rep or {}).get("summary", out.strip().replace("\n", " | ")[-600:]))
                # Push-to-talk at the box, through the running service: its button is line 3 of the board's GPIO chip
                # (qemu's power button, pressed by `system_powerdown`), its microphone ALSA's file plugin playing the
                # spoken command (raw samples) as the capture stream. The models go into the service's own store.
                g.sh("mkdir -p /data/ojscog/models && cp -a /mnt/voice/models/. /data/ojscog/models/ && chown -R ojscog:ojscog /data/ojscog/models; "
                     "mkdir -p /data/etc/ojscog; "
                     "sed -e 's/^capture_device = \"\"/capture_device = \"testmic\"/' -e 's/^button = \"\"/button = \"gpiochip0:3\"/' "
                     "-e 's/^button_active_low = true/button_active_low = false/' -e '/^max_utterance_secs/a speak = false' "
                     "/etc/ojscog/config.toml > /data/etc/ojscog/config.toml; "
                     "printf 'pcm.testmic { type file\\n slave.pcm \"null\"\\n file \"/dev/null\"\\n infile \"/mnt/voice/command.raw\"\\n format \"raw\" }\\n' "
                     "> /data/ojscog/.asoundrc; chown ojscog:ojscog /data/ojscog/.asoundrc; "
                     "kill $(cat /run/ojscog/service.pid); sleep 4")
                g.wait_ready(args.ready_timeout)
                _, out = g.sh("ls -l /dev/gpiochip*; logread | grep -i 'push-to-talk' | tail -3", check=False)
                check("voice: the service requests the push-to-talk button line", "push-to-talk button ready" in out,
                      out.strip().replace("\n", " | ")[-500:])
                t0 = time.monotonic()
                g.monitor("system_powerdown")
                exchange = None
                while time.monotonic() - t0 < 600 and exchange is None:
                    time.sleep(3)
                    req = urllib.request.Request(f"http://127.0.0.1:{g.port}/api/voice",
                                                 headers={"Authorization": f"Bearer {read_token}"})
                    try:
                        with urllib.request.urlopen(req, timeout=10) as r:
                            recent = json.loads(r.read()).get("recent", [])
                            exchange = recent[0] if recent else None
                    except Exception:
                        pass
                results["voice_button_s"] = round(time.monotonic() - t0, 1)
                _, log = g.sh("logread | grep -i 'push-to-talk' | tail -4", check=False)
                intent = (exchange or {}).get("answer", {}).get("intent")
                check("voice: a press of the GPIO button records from the microphone and answers (overdue)",
                      intent == "overdue", f"{json.dumps(exchange)[:400]} | {log.strip()[-400:]}")
                g.sh("rm -f /data/etc/ojscog/config.toml /data/ojscog/.asoundrc")
            t0 = time.monotonic()
            if server:
                # The running service (user ojscog, auto_apply off) is told by the admin to apply; it verifies the
                # index and the bundle and hands it to healthwatch, which installs it as root into slot B.
                # The channel's key is not given to the box: it is the one baked into the read-only image.
                key_line = open(args.channel_key).read().split("\n")[1].strip()
                _, baked = g.sh("cat /etc/ojscog/update-keys/*.pub")
                check("OTA: the image trusts the channel's key, baked into /etc/ojscog/update-keys", key_line in baked, baked[-300:])
                lines = ['', '[update]', 'channel_url = "http://10.0.2.100:8000/index.json"',
                         'auto_apply = false', 'reserve_bytes = 67108864']
                g.sh("mkdir -p /data/etc/ojscog; "
                     "cp /etc/ojscog/config.toml /data/etc/ojscog/config.toml; "
                     "printf '%s\\n' " + " ".join(f"'{l}'" for l in lines) + " >> /data/etc/ojscog/config.toml; "
                     "kill $(cat /run/ojscog/service.pid); sleep 4")
                g.wait_ready(args.ready_timeout)
                def api(body):
                    req = urllib.request.Request(f"http://127.0.0.1:{g.port}/api/update", data=body, method="POST",
                                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                    with urllib.request.urlopen(req, timeout=30) as r:
                        return r.status
                check("OTA: POST /api/update (admin) starts the update", api(b'{"action":"apply"}') == 202)
                _, out = g.sh("for i in $(seq 1 600); do [ -f /run/ojscog/system-update.result ] && break; sleep 1; done; "
                              "cat /run/ojscog/system-update.result; cat /run/ojscog/slots.json", timeout=700, check=False)
                server.terminate()
                results["ota_install_s"] = round(time.monotonic() - t0, 1)
                check("OTA: the service pulled the signed channel's bundle, healthwatch installed it into slot B",
                      # (the console's own messages may come first in the output)
                      re.search(r"^0 ojscog-update: slot B installed", out, re.M) is not None, out.strip().replace("\n", " | ")[-600:])
                with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{g.port}/api/update",
                                            headers={"Authorization": f"Bearer {token}"}), timeout=30) as r:
                    hist = json.loads(r.read())["history"]
                check("OTA: the update history records the system bundle as staged",
                      any(h["kind"] == "system" and h["result"] == "staged" for h in hist), json.dumps(hist)[:400])
                _, slots = g.sh("cat /run/ojscog/slots.json")
                sj = json.loads(slots.strip())
                check("OTA: slot B is primary before reboot", sj["primary"] == "B", slots.strip())
                check("OTA: the admin asks for the reboot", api(b'{"action":"reboot"}') == 202)
                g.wait_exit(120)
                g = None
            else:
                rc, out = g.sh("ojscog-update /mnt/ota.raucb", timeout=300, check=False)
                results["ota_install_s"] = round(time.monotonic() - t0, 1)
                check("OTA: signed bundle installed into slot B", rc == 0 and "slot B installed" in out, out.strip().replace("\n", " | "))
                _, slots = g.sh("cat /run/ojscog/slots.json")
                sj = json.loads(slots.strip())
                check("OTA: slot B is primary before reboot", sj["primary"] == "B", slots.strip())
                g.reboot()
            g = Guest(args, work, disk, extra_disk=upd, name="boot4")
            t, _ = g.wait_ready(args.ready_timeout)
            _, out = g.sh("cat /run/ojscog/booted-slot; cat /etc/ojscog-release; cat /data/boot-test-marker; sleep 1; cat /run/ojscog/slots.json")
            check("OTA: slot B boots the new release", out.startswith("B") and (args.ota_version or "") in out, out.strip().replace("\n", " | "))
            check("OTA: /data kept across the update", marker in out)
            sj = json.loads(out.strip().splitlines()[-1])
            check("OTA: slot B marked good, slot A kept as fallback", sj["slots"]["B"]["state"] == "good" and sj["slots"]["A"]["state"] == "good", json.dumps(sj))
            if args.broken_bundle:
                # 4. a release that never becomes healthy falls back
                g.sh("mount -o ro $(findfs LABEL=update) /mnt; echo BOOT_GRACE=25 > /data/etc/ojscog/healthwatch.conf; sync")
                rc, out = g.sh("ojscog-update /mnt/broken.raucb --tries 1", timeout=300, check=False)
                check("fallback: broken bundle installed into slot A with one try", rc == 0 and "slot A installed" in out, out.strip().replace("\n", " | "))
                g.reboot()
                g = Guest(args, work, disk, extra_disk=upd, name="boot5")
                g.wait_console(r"booting slot A", 60)
                g.wait_console(r"marking this slot bad and rebooting", 180)
                g.wait_exit(90)
                check("fallback: slot A gave up and rebooted", True)
                g = Guest(args, work, disk, extra_disk=upd, name="boot6")
                g.wait_console(r"booting slot B", 60)
                t, _ = g.wait_ready(args.ready_timeout)
                _, out = g.sh("rm -f /data/etc/ojscog/healthwatch.conf; sleep 1; cat /run/ojscog/slots.json")
                sj = json.loads(out.strip().splitlines()[-1])
                check("fallback: slot B serves again, slot A marked bad", sj["booted"] == "B" and sj["slots"]["A"]["state"] == "bad", json.dumps(sj))
            if args.broken_bundle and args.hang_bundle:
                # 5. a release that hangs before healthwatch runs: only the watchdog can get the box back
                g.sh("mount -o ro $(findfs LABEL=update) /mnt 2>/dev/null || true")
                rc, out = g.sh("ojscog-update /mnt/hang.raucb --tries 1", timeout=300, check=False)
                check("watchdog: hanging bundle installed into slot A with one try", rc == 0 and "slot A installed" in out, out.strip().replace("\n", " | "))
                g.reboot()
                g = Guest(args, work, disk, extra_disk=upd, name="boot7", append="ojscog.boot_watchdog=15 ojscog.watchdog_timeout=10")
                g.wait_console(r"booting slot A", 60)
                g.wait_console(r"deliberately hanging release", 120)
                g.wait_exit(180)
                check("watchdog: the hanging slot A was reset by the watchdog armed in the initramfs", True)
                g = Guest(args, work, disk, extra_disk=upd, name="boot8")
                g.wait_console(r"booting slot B", 60)
                g.wait_ready(args.ready_timeout)
                _, out = g.sh("sleep 1; cat /run/ojscog/slots.json")
                sj = json.loads(out.strip().splitlines()[-1])
                check("watchdog: slot B serves again, slot A has no tries left", sj["booted"] == "B" and sj["slots"]["A"]["state"] == "bad", json.dumps(sj))
        g.reboot()
        g = None
    except AssertionError as e:
        check("boot test", False, str(e))
    finally:
        if g:
            g.kill()
    results["failures"] = failures
    results["version"] = version
    print(json.dumps(results))
    if args.report:
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())
