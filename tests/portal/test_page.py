"""The portal's page and files are the service's own: every file the page loads is served
from its package under a policy that allows this origin only; the page is off unless
the setting turns it on; its documents build into a trusted documents' manifest; and
the vendored npm files are what their pinned packages build."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from benefitgate.config import Settings
from tests.conftest import Api, MakeApi
from tests.fixtures.factories import NOW
from tests.fixtures.node import assert_rebuilds

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "benefitgate" / "portal" / "static"
IMPORT = re.compile(r"""(?:import|from)\s*(?:[^'"]*?\sfrom\s*)?["'](\.{1,2}/[^"']+)["']""")


async def test_the_page_and_every_module_it_imports_are_served_by_the_service(
    make_api: MakeApi,
) -> None:
    async with make_api(portal=True) as api:
        page = await api.client.get("/portal")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        # The charts' range is the service's date, whatever the browser's clock says.
        assert f'data-today="{NOW.date().isoformat()}"' in page.text
        urls = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert any(u.endswith("portal.js") for u in urls)
        seen: set[str] = set()
        while urls:
            url = urls.pop()
            if url in seen:
                continue
            seen.add(url)
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, f"{url} is not this service's"
            served = await api.client.get(url)
            assert served.status_code == 200, url
            if url.endswith(".js"):
                base = url.rsplit("/", 1)[0]
                for relative in IMPORT.findall(served.text):
                    urls.append(_join(base, relative))
        names = [p.stem for p in (STATIC / "documents").glob("*.graphql")]
        assert {"PortalView", "SelfServePreview", "SelfServeUndoCancel"} <= set(names)
        for name in names:
            assert (
                await api.client.get(f"/portal/assets/documents/{name}.graphql")
            ).status_code == 200
    assert len(seen) >= 8  # the page's scripts, styles and the vendored modules


def _join(base: str, relative: str) -> str:
    parts = base.split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)


async def test_the_portal_is_off_unless_the_setting_turns_it_on(api: Api) -> None:
    assert (await api.client.get("/portal")).status_code == 404
    assert (await api.client.get("/portal/assets/portal.js")).status_code == 404


def test_the_setting_follows_development_mode_unless_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BENEFITGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BENEFITGATE_PORTAL", raising=False)
    monkeypatch.delenv("BENEFITGATE_DEV_MODE", raising=False)
    assert Settings.from_env().portal is False
    monkeypatch.setenv("BENEFITGATE_DEV_MODE", "1")
    assert Settings.from_env().portal is True
    monkeypatch.setenv("BENEFITGATE_PORTAL", "0")
    assert Settings.from_env().portal is False


def test_the_portal_documents_build_into_a_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.json"
    built = subprocess.run(  # noqa: S603 (the project's own CLI)
        [str(ROOT / ".venv" / "bin" / "benefitgate"), "documents", "build",
         str(STATIC / "documents"), "--output", str(manifest)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert "11 documents" in built.stdout


@pytest.mark.skipif(
    shutil.which("npm") is None, reason="no npm: the portal's vendored files were not rebuilt"
)
def test_the_vendored_files_are_what_their_pinned_packages_build(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "build-portal-vendor"
    assert_rebuilds(script, STATIC / "vendor", tmp_path / "out", "make portal-vendor")
