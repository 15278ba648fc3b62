#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Boot a Debian kernel (default: Debian 12's own linux-image-*-cloud-amd64, 6.1) under
# qemu-system-x86_64 with a busybox initramfs holding this build, run the test suite (the same
# ctest invocation as scripts/test.sh) or the benchmark inside it, and report per test.
# Usage and details: tests/vm/README.md. Exits non-zero on any failure, and when the VM cannot
# run at all while CI=true (outside CI that case is a loud skip, exit 0).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build}
cache=${MMSG_VM_CACHE:-/var/cache/mmsgate-vm}
suite=ctest
dist="" # a Debian suite other than the host's, fetched with a private apt state
vm_timeout=${MMSG_VM_TIMEOUT:-1500}
kernel_pkg=""
inner_args=()

usage() {
    cat <<EOF
usage: tests/vm/run.sh [--backports] [--kernel-package PKG] [--timeout SECONDS]
                       [--ctest | --bench [BENCH-ARGS...] | --features | --shell-cmd CMD]
  --ctest              (default) ctest --output-on-failure -j1 inside the VM, as scripts/test.sh
  --bench ARGS...      tests/bench's bench inside the VM (ratios only: TCG is slow)
  --features           only \`mmsgate features\` inside the VM
  --backports          the newest kernel from bookworm-backports instead of Debian 12's 6.1
  --dist SUITE         the kernel of another Debian suite (e.g. bullseye: 5.10, to see the
                       refusal below 5.19)
  --kernel-package PKG a linux-image-* package name (default: what linux-image-cloud-amd64
                       depends on)
  --timeout SECONDS    bound on the whole VM run (default $vm_timeout)
env: BUILD_DIR (default build/), MMSG_VM_CACHE (default /var/cache/mmsgate-vm),
     MMSG_VM_ACCEL=kvm to try KVM (default: TCG), MMSG_VM_CPU (qemu64,-cx16), MMSG_VM_SMP,
     MMSG_VM_MEM_MB, MMSG_VM_TIMEOUT, MMSG_VM_BOOT_TIMEOUT, MMSG_VM_APPEND
EOF
}

while (($#)); do
    case "$1" in
    --backports) dist=bookworm-backports ;;
    --dist)
        dist=$2
        shift
        ;;
    --kernel-package)
        kernel_pkg=$2
        shift
        ;;
    --timeout)
        vm_timeout=$2
        shift
        ;;
    --ctest) suite=ctest ;;
    --features) suite=features ;;
    --bench)
        suite=bench
        shift
        inner_args=("$@")
        break
        ;;
    --shell-cmd)
        suite=shell
        inner_args=("$2")
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "vm/run.sh: unknown argument: $1" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
done

# The VM stage must never pass silently: outside CI a missing prerequisite is a loud skip, in CI
# (CI=true) a failure.
cannot_run() {
    echo "" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!! vm/run.sh: THE KERNEL VM SUITE DID NOT RUN: $*" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    if [[ "${CI:-}" == true ]]; then
        echo "vm/run.sh: CI=true: failing" >&2
        exit 1
    fi
    exit 0
}

[[ "$(uname -m)" == x86_64 ]] || cannot_run "needs an x86_64 host (this is $(uname -m))"

sudo=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        sudo=(sudo -n)
    fi
fi
as_root() {
    if ((EUID != 0)) && ((${#sudo[@]} == 0)); then
        return 1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive "$@"
}

# qemu, busybox and apt's download tools; nothing is installed when all are present.
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[[ -x /bin/busybox ]] && /bin/busybox --list 2>/dev/null | grep -x cpio >/dev/null || need+=(busybox-static)
if ((${#need[@]})); then
    echo "vm/run.sh: installing ${need[*]}"
    if ! as_root apt-get -q -o DPkg::Lock::Timeout=900 install -y --no-install-recommends \
        "${need[@]}" </dev/null >/tmp/mmsg-vm-apt.$$ 2>&1; then
        # The package lists may be missing on a fresh machine: update once and retry.
        if ! as_root apt-get -q -o DPkg::Lock::Timeout=900 update </dev/null >>/tmp/mmsg-vm-apt.$$ 2>&1 ||
            ! as_root apt-get -q -o DPkg::Lock::Timeout=900 install -y --no-install-recommends \
                "${need[@]}" </dev/null >>/tmp/mmsg-vm-apt.$$ 2>&1; then
            cat /tmp/mmsg-vm-apt.$$ >&2 || true
            rm -f /tmp/mmsg-vm-apt.$$
            cannot_run "could not install ${need[*]} (not root, or apt failed)"
        fi
    fi
    rm -f /tmp/mmsg-vm-apt.$$
fi
command -v qemu-system-x86_64 >/dev/null || cannot_run "qemu-system-x86_64 not found"

[[ -f "$build/CMakeCache.txt" ]] || {
    echo "vm/run.sh: $build is not a configured build directory (run scripts/test.sh first)" >&2
    exit 2
}
# Up to date already when called from scripts/test.sh; cheap then.
cmake --build "$build" --parallel "$(nproc)" >/dev/null

# --- the kernel: apt-get download + dpkg-deb -x into the cache, never installed on the host ---
mkdir -p "$cache" 2>/dev/null || cannot_run "cannot create the cache directory $cache (set MMSG_VM_CACHE)"
apt_opts=(-q -o DPkg::Lock::Timeout=900)
if [[ -n "$dist" ]]; then
    # A private apt state with only that suite: the host's sources stay untouched.
    bp="$cache/apt-$dist"
    mkdir -p "$bp/lists/partial" "$bp/archives/partial"
    echo "deb http://deb.debian.org/debian $dist main" >"$bp/sources.list"
    apt_opts+=(-o Dir::Etc::SourceList="$bp/sources.list" -o Dir::Etc::SourceParts=/nonexistent
        -o Dir::State::Lists="$bp/lists" -o Dir::Cache="$bp")
    if ! apt-get "${apt_opts[@]}" update </dev/null >"$bp/update.log" 2>&1; then
        cat "$bp/update.log" >&2
        cannot_run "$dist is not reachable"
    fi
fi
if [[ -z "$kernel_pkg" ]]; then
    # The metapackage names the current ABI's image package.
    kernel_pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [[ -n "$kernel_pkg" ]] || cannot_run "apt knows no linux-image-cloud-amd64 (apt-get update?)"
fi
kdir="$cache/$kernel_pkg"
if ! compgen -G "$kdir/boot/vmlinuz-*" >/dev/null; then
    echo "vm/run.sh: downloading $kernel_pkg"
    tmpd=$(mktemp -d "$cache/dl.XXXXXX")
    chmod 755 "$tmpd" # apt's _apt user downloads into it
    if ! (cd "$tmpd" && apt-get "${apt_opts[@]}" download "$kernel_pkg" </dev/null >dl.log 2>&1); then
        cat "$tmpd/dl.log" >&2
        rm -rf "$tmpd"
        cannot_run "could not download $kernel_pkg"
    fi
    mkdir -p "$tmpd/x"
    dpkg-deb --fsys-tarfile "$tmpd"/*.deb | tar -C "$tmpd/x" -x --wildcards './boot/*'
    rm -rf "$kdir"
    mkdir -p "$kdir"
    mv "$tmpd/x/boot" "$kdir/boot"
    rm -rf "$tmpd"
fi
vmlinuz=$(compgen -G "$kdir/boot/vmlinuz-*" | head -n1)

# --- the initramfs: busybox, the build tree and the sources at their host paths, every library ---
work=$(mktemp -d /tmp/mmsg-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
stage="$work/root"
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/lib32,etc,proc,sys,dev,tmp,run,root,vm}
for d in bin sbin lib lib64 lib32; do
    ln -s "usr/$d" "$stage/$d"
done
cp /bin/busybox "$stage/usr/bin/busybox"
for applet in $(/bin/busybox --list); do
    [[ -e "$stage/usr/bin/$applet" ]] || ln -s busybox "$stage/usr/bin/$applet"
done

# The sources (tests read examples/policies, scripts) and the build tree at the same absolute
# paths, so CTestTestfile.cmake and the compiled-in paths work unchanged. Object files are not
# needed; the policy archive is (policy_purity runs nm on it).
mkdir -p "$stage$root" "$stage$build"
tar -C "$root" --exclude=./.git --exclude='./build*' -cf - . | tar -C "$stage$root" -xf -
tar -C "$build" --exclude='*.o' --exclude='*.o.d' -cf - . | tar -C "$stage$build" -xf -

# Host programs the suite runs besides the build's own: ctest, nm (policy_purity), and journald
# with journalctl (integration_journal starts its own journald where none runs, as here).
extra_bins=(/usr/bin/ctest "$(readlink -f /usr/bin/nm)" /usr/bin/nm
    /lib/systemd/systemd-journald /usr/bin/journalctl)
for b in "${extra_bins[@]}"; do
    [[ -e "$b" ]] || continue
    mkdir -p "$stage$(dirname "$b")"
    cp -P "$b" "$stage$b"
    [[ -L "$b" ]] && cp -L "$b" "$stage$(readlink -f "$b")"
done
# ctest wants to find CMAKE_ROOT (the Modules directory); it reads none of the modules to run tests.
cmroot=$(compgen -G "/usr/share/cmake-*" | head -n1 || true)
if [[ -n "$cmroot" ]]; then
    mkdir -p "$stage$cmroot/Modules"
    cp "$cmroot/Modules/CMake.cmake" "$stage$cmroot/Modules/" 2>/dev/null || true
fi

# Every shared library of every ELF program in the stage. 64-bit programs: ldd. 32-bit ones:
# their interpreter and DT_NEEDED, resolved by hand in the i386 library directories, because
# ldd has to run the i386 loader, and a host without IA32 emulation cannot.
libs_list="$work/libs"
: >"$libs_list"
dirs32=(/lib/i386-linux-gnu /usr/lib/i386-linux-gnu /lib32 /usr/lib32)
declare -A seen32=()
needed32() {
    local f=$1 n d
    readelf -lW "$f" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p'
    for n in $(readelf -dW "$f" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]$/\1/p'); do
        for d in "${dirs32[@]}"; do
            [[ -e "$d/$n" && -z "${seen32[$d/$n]:-}" ]] || continue
            seen32[$d/$n]=1
            echo "$d/$n"
            needed32 "$d/$n"
        done
    done
}
while IFS= read -r -d '' f; do
    head -c4 "$f" 2>/dev/null | grep -q $'\x7fELF' || continue
    if [[ "$(od -An -tu1 -j4 -N1 "$f" | tr -d ' ')" == 1 ]]; then
        needed32 "$f" >>"$libs_list"
        continue
    fi
    ldd "${f#"$stage"}" 2>/dev/null | awk '
        /=> \// { print $3; next }
        /^[[:space:]]*\/[^ ]+ \(/ { print $1 }' >>"$libs_list" || true
done < <(find "$stage$build" "$stage/usr/bin" "$stage/usr/lib/systemd" -type f -perm -u+x -print0)
sort -u "$libs_list" | while IFS= read -r lib; do
    [[ -e "$stage$lib" ]] && continue
    real=$(readlink -f "$lib")
    mkdir -p "$stage$(dirname "$real")" "$stage$(dirname "$lib")"
    [[ -e "$stage$real" ]] || cp -L "$real" "$stage$real"
    [[ -e "$stage$lib" ]] || ln -s "$real" "$stage$lib"
done

cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
printf '127.0.0.1 localhost\n::1 localhost\n' >"$stage/etc/hosts"
# journald names its files after the machine id; a fresh one, not the host's.
tr -d '-' </proc/sys/kernel/random/uuid >"$stage/etc/machine-id"
cp /etc/ld.so.cache "$stage/etc/" 2>/dev/null || true

# The job: the suite to run, written here so /init stays generic.
{
    echo "cd '$build'"
    case "$suite" in
    ctest)
        # The suites whose outcome depends on the kernel: integration (real filters, real
        # children, every route, the journal), differential, signals and the attacker tests.
        # Not the pure unit tests, nor the installer and containers (runtimes the initramfs does
        # not hold; they ran on the host). The differential and the live proof of the compiled
        # filter (kernel_path) run their i386 halves only, which the host cannot run; their
        # x86_64 halves ran on the host and would add minutes under TCG.
        echo "export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MMSG_VM_SUITE=1"
        echo "ctest --test-dir '$build' --output-on-failure -j1 --no-tests=error \\"
        echo "    -R '^(integration_|signals\$|attack_|differential\$)'"
        ;;
    bench)
        printf '%q/tests/bench/bench' "$build"
        printf ' %q' "${inner_args[@]}"
        echo
        ;;
    features) echo "'$build/broker/mmsgate' features" ;;
    shell) echo "${inner_args[0]}" ;;
    esac
} >"$stage/vm/job.sh"
cp "$root/tests/vm/init" "$stage/init"
chmod 755 "$stage/init" "$stage/vm/job.sh"

initrd="$work/initrd.cpio"
(cd "$stage" && find . | /bin/busybox cpio -o -H newc 2>/dev/null >"$initrd")
echo "vm/run.sh: kernel $kernel_pkg ($(basename "$vmlinuz")), initramfs $(du -m "$initrd" | cut -f1) MiB"

# --- boot ---
# qemu64 without cmpxchg16b: with it (-cpu max or qemu64), qemu 7.2's TCG double-faulted
# bookworm-backports' 6.12 in kmem_cache_alloc (SLUB's gs-prefixed cmpxchg16b fast path) during
# the suite, and single-threaded TCG during boot. Without it SLUB takes its locked path.
accel=(-accel "tcg,thread=${MMSG_VM_TCG_THREAD:-multi}" -cpu "${MMSG_VM_CPU:-qemu64,-cx16}")
if [[ "${MMSG_VM_ACCEL:-}" == kvm ]]; then
    # Opt-in only: -enable-kvm -cpu host crashed the guest on the machine this was written on.
    accel=(-accel kvm -cpu host)
fi
log="$work/console.log"
boot_timeout=${MMSG_VM_BOOT_TIMEOUT:-180}
# One boot. Returns 3 when the guest did not reach /init within boot_timeout: under TCG on a
# loaded host the guest has occasionally stopped early in boot (qemu idle, no console output),
# so the caller boots once more instead of waiting for the whole-run timeout.
boot() {
    local deadline=$(($(date +%s) + boot_timeout)) pid
    : >"$log"
    rm -f "$work/qemu.pid" "$work/qemu.rc"
    {
        timeout --foreground -k 10 "$vm_timeout" qemu-system-x86_64 \
            -nodefaults -no-user-config -machine pc "${accel[@]}" \
            -smp "${MMSG_VM_SMP:-2}" -m "${MMSG_VM_MEM_MB:-2048}" \
            -display none -monitor none -serial stdio -no-reboot -pidfile "$work/qemu.pid" \
            -kernel "$vmlinuz" -initrd "$initrd" \
            -append "console=ttyS0 ${MMSG_VM_APPEND:-quiet loglevel=3} panic=-1 rdinit=/init" \
            </dev/null 2>&1
        echo $? >"$work/qemu.rc"
    } | sed -u 's/\r$//' | tee "$log" &
    pid=$!
    while ! grep -q '^MMSG-VM-KERNEL' "$log" && kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s) > deadline)); then
            echo "vm/run.sh: the guest did not reach /init in ${boot_timeout} s; stopping it" >&2
            kill "$(cat "$work/qemu.pid" 2>/dev/null)" 2>/dev/null || true
            wait "$pid" || true
            return 3
        fi
        sleep 1
    done
    wait "$pid" || true
    return 0
}
start=$(date +%s)
for attempt in 1 2; do
    boot && break
    ((attempt < 2)) || {
        echo "vm/run.sh: FAILED: the guest did not boot, twice" >&2
        exit 1
    }
done
qemu_rc=$(cat "$work/qemu.rc" 2>/dev/null || echo 1)
elapsed=$(($(date +%s) - start))

# --- verdict, from the console ---
echo ""
echo "== vm/run.sh: $suite on $(sed -n 's/^MMSG-VM-KERNEL //p' "$log" | head -n1) in ${elapsed} s"
if ((qemu_rc == 124 || qemu_rc == 137)); then
    echo "vm/run.sh: FAILED: the VM run exceeded ${vm_timeout} s (--timeout)" >&2
    exit 1
fi
if [[ "$suite" == ctest ]]; then
    # ctest's per-test lines: "  3/21 Test  #3: name ....   Passed    0.01 sec"
    results=$(sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.*[ *]*([A-Za-z][A-Za-z ]*[a-z]).*$/\1 \2/p' "$log")
    if [[ -z "$results" ]]; then
        echo "vm/run.sh: FAILED: no per-test results on the console" >&2
        exit 1
    fi
    printf '%s\n' "$results" | awk '{ st = $2; for (i = 3; i <= NF; i++) st = st " " $i;
        printf "  %-28s %s\n", $1, st }'
    failed=$(printf '%s\n' "$results" | awk '$2 != "Passed"' | wc -l)
    echo "vm/run.sh: $(printf '%s\n' "$results" | wc -l) tests, $failed not passed"
fi
rc=$(sed -n 's/^MMSG-VM-EXIT \([0-9]*\).*/\1/p' "$log" | tail -n1)
if [[ -z "$rc" ]]; then
    echo "vm/run.sh: FAILED: the VM ended without reporting (qemu exit $qemu_rc)" >&2
    exit 1
fi
if ((rc != 0)); then
    echo "vm/run.sh: FAILED: $suite exited $rc inside the VM" >&2
    exit 1
fi
echo "vm/run.sh: passed"
