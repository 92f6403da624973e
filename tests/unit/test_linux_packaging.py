"""The Linux packages: installers/linux/build_deb.sh and build_tarball.sh.

Both are built from a stand-in bundle (a shell script named `folio` that echoes its
arguments, and a real shared object in _internal/ so that lintian's checks on binaries run),
so these tests need neither PyInstaller nor a frozen build. The icons are tiny PNGs written
here, so PySide6 is not needed either. Each test skips, naming the tool, where the host lacks
a Debian tool it needs (dpkg-deb, lintian, desktop-file-validate, appstreamcli, xdg-mime).
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tarfile
import zlib
from pathlib import Path

import pytest

from desktop_app import __version__

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "installers" / "linux"
APP_ID = "org.folio.Folio"
DEB_VERSION = f"{__version__}-1"
DEB_NAME = f"folio_{DEB_VERSION}_amd64.deb"
TARBALL_TOP = f"folio-{__version__}-linux-x86_64"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# A real shared object for the stand-in bundle (lintian inspects ELF files).
SYSTEM_SO_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libz.so.1",
    "/lib/x86_64-linux-gnu/libz.so.1",
    "/usr/lib64/libz.so.1",
)


def needs(*tools: str):
    missing = [t for t in tools if shutil.which(t) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (Debian tools)")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


def _png(size: int) -> bytes:
    """A size×size opaque PNG, written by hand: the tests must not need Qt or ImageMagick."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + b"\x2f\x5d\x8a" * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def icons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("icons")
    for size in ICON_SIZES:
        path = root / "hicolor" / f"{size}x{size}" / "apps" / "folio.png"
        path.parent.mkdir(parents=True)
        path.write_bytes(_png(size))
    scalable = root / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy(REPO / "resources" / "folio.svg", scalable / "folio.svg")
    return root


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    so = next((Path(p) for p in SYSTEM_SO_CANDIDATES if Path(p).is_file()), None)
    if so is None:
        pytest.skip("no system libz.so.1 to put in the stand-in bundle")
    root = tmp_path_factory.mktemp("dist") / "folio"
    (root / "_internal").mkdir(parents=True)
    exe = root / "folio"
    exe.write_text('#!/bin/sh\necho "folio-standin $*"\n', encoding="utf-8")
    exe.chmod(0o755)
    shutil.copy(so, root / "_internal" / "libfoo.so")
    # Wheels ship libraries with the x bit and odd modes: the builds must normalise them.
    (root / "_internal" / "libfoo.so").chmod(0o775)
    return root


def _build_env(icons: Path) -> dict[str, str]:
    env = dict(os.environ, FOLIO_ICONS_DIR=str(icons), SOURCE_DATE_EPOCH="1767225600")
    env.pop("FOLIO_MAINTAINER", None)
    return env


@pytest.fixture(scope="module")
def deb(bundle: Path, icons: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb (Debian tool)")
    out = tmp_path_factory.mktemp("deb-out")
    result = run([str(LINUX / "build_deb.sh"), str(bundle), str(out)], env=_build_env(icons))
    assert result.returncode == 0, result.stderr
    path = out / DEB_NAME
    assert result.stdout.strip() == str(path)
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def deb_tree(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("deb-tree")
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree


def _deb_listing(deb: Path) -> dict[str, tuple[str, str, str]]:
    """path -> (mode string, owner/group, link target or '')."""
    listing = run(["dpkg-deb", "-c", str(deb)]).stdout
    entries = {}
    for line in listing.splitlines():
        mode, owner, _size, _date, _time, name, *rest = line.split(maxsplit=6)
        target = rest[0].removeprefix("-> ") if rest else ""
        entries[name.removeprefix("./").rstrip("/")] = (mode, owner, target)
    return entries


# --- the .deb ---------------------------------------------------------------------------


def test_deb_holds_the_bundle_and_the_desktop_integration(deb: Path):
    entries = _deb_listing(deb)
    expected = {
        "opt/folio/folio",
        "opt/folio/_internal/libfoo.so",
        "usr/bin/folio",
        f"usr/share/applications/{APP_ID}.desktop",
        f"usr/share/metainfo/{APP_ID}.metainfo.xml",
        "usr/share/icons/hicolor/48x48/apps/folio.png",
        "usr/share/icons/hicolor/128x128/apps/folio.png",
        "usr/share/icons/hicolor/256x256/apps/folio.png",
        "usr/share/icons/hicolor/scalable/apps/folio.svg",
        "usr/share/doc/folio/copyright",
        "usr/share/doc/folio/changelog.Debian.gz",
        "usr/share/man/man1/folio.1.gz",
        "usr/share/lintian/overrides/folio",
    }
    assert expected <= entries.keys(), sorted(expected - entries.keys())
    assert entries["usr/bin/folio"][0].startswith("l")
    assert entries["usr/bin/folio"][2] == "/opt/folio/folio"
    assert entries["opt/folio/folio"][0] == "-rwxr-xr-x"
    assert entries["opt/folio/_internal/libfoo.so"][0] == "-rw-r--r--"
    assert {owner for _mode, owner, _target in entries.values()} == {"root/root"}


def test_deb_has_no_maintainer_scripts(deb: Path, tmp_path: Path):
    # dpkg triggers refresh the desktop, icon and MIME caches; nothing may run that could
    # touch a user's home folder.
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path / "DEBIAN")], check=True)
    assert sorted(p.name for p in (tmp_path / "DEBIAN").iterdir()) == ["control", "md5sums"]


def test_deb_control_fields(deb: Path):
    def field(name: str) -> str:
        return run(["dpkg-deb", "-f", str(deb), name]).stdout.strip()

    assert field("Package") == "folio"
    assert field("Version") == DEB_VERSION
    assert field("Architecture") == "amd64"
    assert field("Section") in {"misc", "utils"}
    assert field("Priority") == "optional"
    assert "<" in field("Maintainer") and "@" in field("Maintainer")
    assert int(field("Installed-Size")) > 0
    depends = [d.strip() for d in field("Depends").split(",")]
    for package in ("libxcb-cursor0", "libxkbcommon-x11-0", "libegl1", "libfontconfig1"):
        assert package in depends
    assert "libglib2.0-0t64 | libglib2.0-0" in depends
    # Measured from the bundle: the stand-in's libz copy links glibc.
    assert any(d.startswith("libc6 (>= 2.") for d in depends), depends
    recommends = [d.strip() for d in field("Recommends").split(",")]
    assert {"libvulkan1", "mesa-vulkan-drivers"} <= set(recommends)
    assert field("Description").startswith("ask questions about whole documents")


@needs("lintian")
def test_lintian_finds_no_errors_or_warnings(deb: Path):
    result = run(["lintian", "--fail-on", "error,warning", "--display-info", str(deb)])
    tags = [line for line in result.stdout.splitlines() if line[:2] in {"E:", "W:"}]
    assert result.returncode == 0 and not tags, result.stdout + result.stderr


@needs("desktop-file-validate")
def test_installed_desktop_entry_is_valid(deb_tree: Path):
    desktop = deb_tree / "usr/share/applications" / f"{APP_ID}.desktop"
    result = run(["desktop-file-validate", str(desktop)])
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout
    text = desktop.read_text(encoding="utf-8")
    assert "\nExec=folio %F\n" in text
    assert "\nIcon=folio\n" in text
    assert "\nStartupWMClass=folio\n" in text
    mime = next(line for line in text.splitlines() if line.startswith("MimeType="))
    assert set(mime.removeprefix("MimeType=").strip(";").split(";")) == {
        "application/pdf",
        DOCX,
        "text/plain",
        "text/markdown",
    }


@needs("appstreamcli")
def test_installed_metainfo_is_valid(deb_tree: Path):
    metainfo = deb_tree / "usr/share/metainfo" / f"{APP_ID}.metainfo.xml"
    result = run(["appstreamcli", "validate", "--no-net", str(metainfo)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith(("E:", "W:"))]
    assert f'<release version="{__version__}"' in metainfo.read_text(encoding="utf-8")
    # The tree as a whole: metainfo, its desktop entry and its icon found together.
    tree = run(["appstreamcli", "validate-tree", "--no-net", str(deb_tree)])
    assert tree.returncode == 0, tree.stdout + tree.stderr


@needs("dpkg")
def test_deb_install_and_remove_leave_home_data_alone(deb: Path, tmp_path: Path):
    # dpkg into a throwaway root with its own database: the real system is not touched.
    root = tmp_path / "root"
    for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"):
        (root / sub).mkdir(parents=True)
    (root / "var/lib/dpkg/status").touch()
    home_data = root / "home/user/.local/share/Folio/history.sqlite"
    home_data.parent.mkdir(parents=True)
    home_data.write_bytes(b"chats")
    dpkg = ["dpkg", f"--root={root}", "--force-not-root", "--force-depends", "--log=/dev/null"]

    installed = run([*dpkg, "-i", str(deb)])
    assert installed.returncode == 0, installed.stderr
    assert (root / "usr/bin/folio").is_symlink()
    assert (root / "opt/folio/folio").is_file()

    removed = run([*dpkg, "-r", "folio"])
    assert removed.returncode == 0, removed.stderr
    assert not (root / "opt/folio").exists()
    assert not (root / "usr/bin/folio").is_symlink()
    assert not (root / "usr/share/applications" / f"{APP_ID}.desktop").exists()
    assert home_data.read_bytes() == b"chats"


def test_deb_build_refuses_a_folder_that_is_no_bundle(icons: Path, tmp_path: Path):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb (Debian tool)")
    (tmp_path / "not-a-bundle").mkdir()
    result = run(
        [str(LINUX / "build_deb.sh"), str(tmp_path / "not-a-bundle"), str(tmp_path / "out")],
        env=_build_env(icons),
    )
    assert result.returncode != 0
    assert "not a PyInstaller onedir bundle" in result.stderr or "missing" in result.stderr
    assert not list(tmp_path.rglob("*.deb"))


# --- the tarball ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tarball(bundle: Path, icons: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tar-out")
    result = run([str(LINUX / "build_tarball.sh"), str(bundle), str(out)], env=_build_env(icons))
    assert result.returncode == 0, result.stderr
    path = out / f"{TARBALL_TOP}.tar.gz"
    assert result.stdout.strip() == str(path)
    return path


def test_tarball_contents(tarball: Path):
    with tarfile.open(tarball) as tar:
        members = {m.name: m for m in tar.getmembers()}
    top = TARBALL_TOP
    for name in (
        "folio/folio",
        "folio/_internal/libfoo.so",
        "install.sh",
        "uninstall.sh",
        f"share/applications/{APP_ID}.desktop",
        f"share/metainfo/{APP_ID}.metainfo.xml",
        "share/icons/hicolor/48x48/apps/folio.png",
        "share/icons/hicolor/256x256/apps/folio.png",
        "share/icons/hicolor/scalable/apps/folio.svg",
        "share/man/man1/folio.1",
    ):
        assert f"{top}/{name}" in members, name
    assert all(name == top or name.startswith(f"{top}/") for name in members)
    for script in ("install.sh", "uninstall.sh", "folio/folio"):
        assert members[f"{top}/{script}"].mode == 0o755
    assert {(m.uid, m.gid) for m in members.values()} == {(0, 0)}


def _xdg_env(base: Path) -> dict[str, str]:
    """A user with nothing installed: HOME and every XDG folder inside base.

    XDG_DATA_DIRS points at an empty folder so the host's own applications cannot answer
    `xdg-mime query`; the desktop variables are removed so xdg-mime uses its generic,
    file-based mode (mimeapps.list) rather than asking a running desktop.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "KDE_", "GNOME_", "DESKTOP_SESSION"))
    }
    env.update(
        HOME=str(base / "home"),
        XDG_DATA_HOME=str(base / "xdg-data"),
        XDG_CONFIG_HOME=str(base / "xdg-config"),
        XDG_CACHE_HOME=str(base / "xdg-cache"),
        XDG_STATE_HOME=str(base / "xdg-state"),
        XDG_DATA_DIRS=str(base / "system-share"),
        XDG_CONFIG_DIRS=str(base / "system-config"),
    )
    for key in ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_DATA_DIRS", "XDG_CONFIG_DIRS"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


def _default_for(mime: str, env: dict[str, str]) -> str:
    return run(["xdg-mime", "query", "default", mime], env=env).stdout.strip()


@needs("xdg-mime")
def test_tarball_install_default_and_uninstall(tarball: Path, tmp_path: Path):
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="tar")
    top = unpacked / TARBALL_TOP
    env = _xdg_env(tmp_path)
    home, data, config = Path(env["HOME"]), Path(env["XDG_DATA_HOME"]), Path(env["XDG_CONFIG_HOME"])

    # The user's data, and another PDF viewer that is the user's default.
    history = data / "Folio" / "history.sqlite"
    settings = config / "Folio" / "settings.json"
    for path, content in ((history, b"SQLite chats"), (settings, b'{"n_ctx": 8192}')):
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
    viewer = data / "applications" / "other-viewer.desktop"
    viewer.parent.mkdir(parents=True)
    viewer.write_text(
        "[Desktop Entry]\nType=Application\nName=Other\nExec=true %f\nMimeType=application/pdf;\n",
        encoding="utf-8",
    )
    (config / "mimeapps.list").write_text(
        "[Default Applications]\napplication/pdf=other-viewer.desktop\n", encoding="utf-8"
    )

    # Plain install: Folio is a handler, not the default.
    first = run([str(top / "install.sh")], env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    app = data / "folio-app"
    link = home / ".local/bin/folio"
    desktop = data / "applications" / f"{APP_ID}.desktop"
    assert (app / "folio").is_file() and (app / "uninstall.sh").is_file()
    assert link.is_symlink() and os.readlink(link) == str(app / "folio")
    assert run([str(link), "a.pdf"]).stdout.strip() == "folio-standin a.pdf"
    exec_line = next(x for x in desktop.read_text().splitlines() if x.startswith("Exec="))
    assert exec_line == f'Exec="{app / "folio"}" %F'
    if shutil.which("desktop-file-validate"):
        assert run(["desktop-file-validate", str(desktop)]).returncode == 0
    for size in ("48x48", "128x128", "256x256"):
        assert (data / "icons/hicolor" / size / "apps/folio.png").is_file()
    assert (data / "icons/hicolor/scalable/apps/folio.svg").is_file()
    # XDG_DATA_HOME is respected: nothing went to the default ~/.local/share.
    assert not (home / ".local/share").exists()
    if shutil.which("update-desktop-database"):
        cache = (data / "applications" / "mimeinfo.cache").read_text()
        assert "application/pdf=" in cache and f"{APP_ID}.desktop" in cache
    assert _default_for("application/pdf", env) == "other-viewer.desktop"

    # --default: Folio opens PDF and DOCX, and leaves text files to whatever opens them.
    second = run([str(top / "install.sh"), "--default"], env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _default_for("application/pdf", env) == f"{APP_ID}.desktop"
    assert _default_for(DOCX, env) == f"{APP_ID}.desktop"
    assert "text/plain" not in (config / "mimeapps.list").read_text()

    installed = [
        line.split(" ", 1)[1]
        for line in (app / "install-manifest").read_text().splitlines()
        if line.startswith(("file ", "link "))
    ]
    assert str(desktop) in installed and str(link) in installed

    # Uninstall (the copy installed beside the program, as the user would run it).
    gone = run([str(app / "uninstall.sh")], env=env)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert not app.exists()
    assert not link.exists() and not link.is_symlink()
    for path in installed:
        assert not Path(path).exists(), path
    assert not (home / ".local/bin").exists()  # created by install.sh, empty again
    # Kept: the user's data, the other viewer, and the user's previous default.
    assert history.read_bytes() == b"SQLite chats"
    assert settings.read_bytes() == b'{"n_ctx": 8192}'
    assert viewer.is_file()
    assert _default_for("application/pdf", env) == "other-viewer.desktop"
    mimeapps = (config / "mimeapps.list").read_text()
    assert "application/pdf=other-viewer.desktop" in mimeapps.splitlines()
    assert APP_ID not in mimeapps
    assert str(data / "Folio") in gone.stdout and str(config / "Folio") in gone.stdout


def test_uninstall_without_an_install_changes_nothing(tmp_path: Path):
    env = _xdg_env(tmp_path)
    history = Path(env["XDG_DATA_HOME"]) / "Folio" / "history.sqlite"
    history.parent.mkdir(parents=True)
    history.write_bytes(b"chats")
    result = run(["bash", str(LINUX / "uninstall.sh")], env=env)
    assert result.returncode != 0
    assert "no Folio install found" in result.stderr
    assert history.read_bytes() == b"chats"
