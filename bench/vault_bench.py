"""The vault with a large document: `kuznia vault add` and `kuznia vault get` beside a plain
file copy, each in its own process (wall time and peak resident memory).

    python bench/vault_bench.py [--mb 200]

Two documents of ``--mb`` MB: plain text (its copy is a ZIP with a notice, streamed block
by block) and a PDF of 1 MB pages (its copy is stamped by pypdf, which holds the whole
document while it writes: the figure shows what that costs). The workspace, its key file
and the documents are made in bench/out/vault/ (the key file in a folder of its own).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from _common import OUT, py, timed

PLAIN_COPY = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"


def kuznia(*args: str) -> list[str]:
    return [sys.executable, "-m", "kuznia", *args]


def make_text(path: str, mb: int) -> None:
    line = b"maintenance step: check, clean, replace; torque to the value in table 4.\n"
    block = line * (1048576 // len(line) + 1)
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(block[:1048576])


def make_pdf(path: str, mb: int) -> None:
    """``mb`` pages, each with a content stream of about 1 MB (comment lines: valid, and
    as big as a scanned page)."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, NameObject

    w = PdfWriter()
    body = (b"% " + b"0123456789abcdef" * 4 + b"\n") * (1048576 // 67)
    for _ in range(mb):
        page = w.add_blank_page(595, 842)
        stream = ContentStream(None, w)
        stream.set_data(body)
        page[NameObject("/Contents")] = w._add_object(stream)
    with open(path, "wb") as f:
        w.write(f)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    folder = OUT / "vault"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "keys").mkdir(parents=True)
    env = {**os.environ, "KUZNIA_DB": str(folder / "w.db"),
           "KUZNIA_VAULT_KEY_FILE": str(folder / "keys" / "vault.key"),
           "KUZNIA_VAULT_MAX_MB": str(args.mb + 10)}
    quiet = {"stdout": subprocess.DEVNULL, "env": env}
    csvs = {
        "producers": "producer_id,name,kind,region\nP1,Maker one,state,Region 1\n",
        "products": "product_id,name,category\nX1,Product one,one_way_drone\n",
        "partners": "partner_id,name,country\nPA,Partner A,Country A\n",
        "licences": "licence_id,partner_id,kind,product_id,producers,requested_on,"
                    "granted_on,expires_on,max_units,status\n"
                    "L1,PA,repair,X1,P1,2026-01-01,2026-01-02,,,granted\n",
    }
    subprocess.run(kuznia("init"), check=True, **quiet)  # type: ignore[call-overload]
    for table, text in csvs.items():
        (folder / f"{table}.csv").write_text(text)
        subprocess.run(kuznia("import", table, str(folder / f"{table}.csv")), check=True,
                       **quiet)  # type: ignore[call-overload]
    subprocess.run(kuznia("users", "add", "maker", "--role", "producer", "--producer", "P1"),
                   check=True, **quiet)  # type: ignore[call-overload]
    text, pdf = str(folder / "manual.txt"), str(folder / "manual.pdf")
    make_text(text, args.mb)
    make_pdf(pdf, args.mb)
    print(f"{'step':<44} {'seconds':>8} {'peak MiB':>9}")
    for name, path in (("text", text), ("pdf", pdf)):
        size = os.path.getsize(path) / 1048576
        run = timed(py(PLAIN_COPY) + [path, str(folder / f"plain-copy-{name}")], env=env)
        print(f"{f'plain file copy, {name} {size:,.0f} MB':<44} {run.seconds:8.2f} "
              f"{run.peak_mib:9.0f}")
        out = folder / f"added-{name}.txt"
        with out.open("w") as f:
            run = timed(kuznia("vault", "add", path, "--licence", "L1"), stdout=f, env=env)
        doc = out.read_text().split()[-1]
        print(f"{f'vault add, {name}':<44} {run.seconds:8.2f} {run.peak_mib:9.0f}")
        target = folder / f"copy-{name}"
        run = timed(kuznia("vault", "get", doc, "--out", str(target), "--as", "maker"),
                    **quiet)
        form = "stamped PDF" if name == "pdf" else "ZIP with notice"
        print(f"{f'vault get, {name} ({form})':<44} {run.seconds:8.2f} {run.peak_mib:9.0f}")
        run = timed(kuznia("vault", "trace", str(target)), **quiet)
        print(f"{f'vault trace, {name}':<44} {run.seconds:8.2f} {run.peak_mib:9.0f}")


if __name__ == "__main__":
    main()
