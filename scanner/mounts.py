"""Which mounted filesystems a whole-machine scan should stay out of.

A compliance scan of ``/`` walks every *local* filesystem but not pseudo filesystems (``/proc``,
``/sys``: not files anyone installed) nor network filesystems (another machine's disk, scanned
from its own agent). On Linux the mount table comes from ``/proc/self/mountinfo``, on macOS from
``mount`` (``getfsstat`` underneath: network shares under ``/Volumes`` are ``smbfs``, ``nfs``, ``afpfs``,
``webdav``). Windows has drives instead (``scanner.drives``).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from scanner.platforms import macos

PSEUDO_FSTYPES: frozenset[str] = frozenset(
    {
        "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
        "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc",
        "efivarfs", "rpc_pipefs", "nsfs", "selinuxfs", "nfsd", "ramfs", "usbfs", "devfs",
    }
)  # fmt: skip
NETWORK_FSTYPES: frozenset[str] = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre", "gpfs",
        "9p", "virtiofs", "davfs", "fuse", "sshfs", "beegfs", "ocfs2", "gfs2", "vboxsf", "prl_fs",
        "afpfs", "webdav", "ftp",
    }
)  # fmt: skip
# fuse.<helper> mounts the system made are network or virtual (lxcfs, gvfsd, rclone...); fuseblk is ntfs-3g/exfat
# on a local disk. A FUSE mount a user made (squashfuse of an image, sshfs) holds what that user can use here.
_LOCAL_FUSE = frozenset({"fuseblk"})


@dataclass(frozen=True)
class Mount:
    """One line of the mount table."""

    mount_point: str
    fstype: str
    device: str
    """``major:minor`` of the filesystem."""
    fs_root: str
    """Directory of that filesystem mounted here (``/`` unless it is a bind mount of a subtree)."""
    user: int | None = None
    """Who mounted it, where the table says (FUSE's ``user_id=``): a mount a user made is theirs, not the system's."""

    @property
    def made_by_a_user(self) -> bool:
        """Mounted by someone other than root (an unprivileged FUSE mount through the setuid ``fusermount``)."""
        return self.user is not None and self.user != 0


def skip_reason(mount: Mount, include: frozenset[str] = frozenset()) -> str | None:
    """Why this filesystem is not walked by default, or ``None`` to walk it.

    Only filesystems the system mounted are skipped: a user could otherwise hide files from the scan by
    mounting them (``squashfuse`` is all it takes), so a mount a user made is walked, and where root may not
    read it (FUSE without ``allow_other``) it is a gap.
    """
    fstype = mount.fstype
    if fstype in include or mount.made_by_a_user:
        return None
    if fstype in PSEUDO_FSTYPES:
        return f"pseudo filesystem ({fstype})"
    if fstype in _LOCAL_FUSE:
        return None
    if fstype in NETWORK_FSTYPES or fstype.startswith("fuse."):
        return f"network or virtual filesystem ({fstype})"
    return None


def _mounted_by(super_options: str) -> int | None:
    for option in super_options.split(","):
        key, _, value = option.partition("=")
        if key == "user_id" and value.isdigit():
            return int(value)
    return None


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as ``\\ooo`` octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        digits = field[i + 1 : i + 4]
        if field[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str) -> list[Mount]:
    """Parse ``/proc/<pid>/mountinfo`` (see proc(5)); malformed lines are ignored."""
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or not tail:
            continue
        mounts.append(
            Mount(
                mount_point=_unescape(fields[4]),
                fstype=tail[0],
                device=fields[2],
                fs_root=_unescape(fields[3]),
                user=_mounted_by(tail[2]) if len(tail) > 2 else None,
            )
        )
    return mounts


_MACOS_MOUNT = re.compile(r"^(?P<device>.+?) on (?P<point>/.*) \((?P<fstype>[^,()]+)(?:, [^()]*)?\)$")
MOUNT_COMMAND = "/sbin/mount"


def parse_macos_mount(text: str) -> list[Mount]:
    """Parse what macOS's ``mount`` prints (``//alice@fs/share on /Volumes/share (smbfs, nodev, ...)``)."""
    mounts = []
    for line in text.splitlines():
        match = _MACOS_MOUNT.match(line.strip())
        if match:
            device = match.group("device")
            mounts.append(Mount(match.group("point"), match.group("fstype").strip(), device, "/"))
    return mounts


def read_mount_table(path: str = "/proc/self/mountinfo") -> list[Mount]:
    """The running system's mount table, or an empty list where there is none to read."""
    if macos():
        try:
            listed = subprocess.run([MOUNT_COMMAND], capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            return []
        return parse_macos_mount(listed.stdout)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return parse_mountinfo(handle.read(4 << 20))
    except OSError:
        return []
