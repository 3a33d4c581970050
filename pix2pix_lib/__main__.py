"""`python -m pix2pix_lib ...` is the same program as the `pix2pix` console script."""

from pix2pix_lib.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
